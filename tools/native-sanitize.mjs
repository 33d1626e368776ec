#!/usr/bin/env node
// `npm run test:native-sanitize`: the native stress tests with AddressSanitizer and
// UndefinedBehaviorSanitizer (issue 22). Builds (tools/native-builds.mjs) the stress harness and
// the addon with both sanitizers, then runs the harness and every Node scenario of
// test/native/native-stress.test.ts with the ASan runtime preloaded into node and the sanitized
// addon loaded in place of build/Release (GLASSPANE_NATIVE_ADDON). Any report ends the run with
// exit status 1 and the report on stderr. Needs g++ and the gcc runtime's libasan (Debian:
// build-essential). Runs on the compiled dist/ (the npm script builds it first).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSanitizedAddon, buildStressHarness } from './native-builds.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (l) => process.stderr.write(`${l}\n`);
const runtime = (name) => execFileSync('g++', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();

// handle_sigbus=0: the fault guard is what handles SIGBUS here (ASan's handler would report the
// faults it exists to survive). detect_leaks=0: node itself does not free everything at exit.
// allow_user_segv_handler=1: node installs its own SIGSEGV handler (WebAssembly traps).
const env = {
  ...process.env,
  ASAN_OPTIONS: 'handle_sigbus=0:detect_leaks=0:allow_user_segv_handler=1:abort_on_error=0:exitcode=86',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
};

const harness = buildStressHarness({ sanitize: true, log });
const addon = buildSanitizedAddon({ log });
let failed = 0;
const step = (name, file, args, extraEnv = {}) => {
  const t0 = performance.now();
  const r = spawnSync(file, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 240_000 });
  const ok = r.status === 0 && !/ERROR: AddressSanitizer|runtime error:/.test(r.stderr);
  log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  if (!ok) {
    failed++;
    log(`${r.stdout}${r.stderr}`.trim().split('\n').slice(-60).join('\n'));
  }
};

step('stress harness (ASan + UBSan)', harness, []);
const preload = { LD_PRELOAD: [runtime('libasan.so'), runtime('libubsan.so')].join(':'), GLASSPANE_NATIVE_ADDON: addon };
for (const s of ['watchers', 'copies', 'mailbox', 'faults']) {
  step(`${s} scenario in node (ASan + UBSan addon)`, process.execPath, ['--expose-gc', join(root, 'test', 'native', `scenario-${s}.mjs`)], preload);
}
log(failed ? `${failed} sanitizer run(s) failed` : 'native-sanitize: no reports');
process.exitCode = failed ? 1 : 0;
