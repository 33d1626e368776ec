/**
 * The CLI entry loads only what a command needs: `--help` and the commands that never map shared
 * memory work without the native addon (and without loading the SDL or canvas libraries), and
 * those that do need it say what to run instead of printing a stack trace.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { runCli, startCli, waitFor } from '../support/helpers.js';

// node-gyp-build looks for glasspane's binary in $GLASSPANE_PREBUILD instead of the checkout: an
// empty folder stands for a machine where the addon was never built.
const empty = mkdtempSync(join(tmpdir(), 'glasspane-no-addon-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));
const noAddon = { GLASSPANE_PREBUILD: empty, DISPLAY: undefined, WAYLAND_DISPLAY: undefined };

/** Runs the CLI and also reports the native libraries (.node files) the process had loaded at exit. */
async function runReportingLibraries(args: string[], env: NodeJS.ProcessEnv = {}) {
  const hook = `data:text/javascript,process.on('exit',()=>process.stderr.write('LOADED='+JSON.stringify(process.report.getReport().sharedObjects.filter((s)=>s.endsWith('.node')))+'\\n'))`;
  const r = await runCli(args, { env: { ...env, NODE_OPTIONS: `--import=${hook}` } });
  const m = /^LOADED=(.*)$/m.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return { ...r, stderr: r.stderr.replace(/^LOADED=.*\n/m, ''), loaded: JSON.parse(m![1]!) as string[] };
}

describe('the CLI entry', () => {
  it('--help lists every command and loads no native library', async () => {
    const r = await runReportingLibraries(['--help']);
    expect(r.code, r.stderr).toBe(0);
    for (const c of ['stub', 'view', 'demo', 'send', 'doctor', 'iommu', 'vfio', 'vm']) expect(r.stdout).toMatch(new RegExp(`\\n\\s+${c}\\s`));
    expect(r.loaded).toEqual([]);
  });

  it('lists the same commands with the same summaries as the fully loaded program', async () => {
    const full = await buildProgram();
    const lazy = await buildProgram(['--help']);
    const summaries = (p: typeof full) => p.commands.map((c) => [c.name(), c.summary()]);
    expect(summaries(lazy)).toEqual(summaries(full));
    expect(full.commands.find((c) => c.name() === 'vm')!.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['up', 'status', 'down']));
  });

  it('an unknown command is named, with a suggestion, exit status 2 (usage)', async () => {
    const r = await runCli(['viwe']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'viwe'\n\(Did you mean view\?\)/);
  });

  it('`help view` shows the view command\'s options', async () => {
    const r = await runCli(['help', 'view']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: glasspane view \[options\]/);
    expect(r.stdout).toContain('--headless');
  });
});

describe('without the native addon', () => {
  it('--help, send --help, stub --help, doctor and iommu still work', async () => {
    for (const args of [['--help'], ['send', '--help'], ['stub', '--help'], ['view', '--help']]) {
      const r = await runCli(args, { env: noAddon });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^Usage: glasspane/);
    }
    const doctor = await runCli(['doctor', '--root', empty, '--json'], { env: noAddon });
    expect(doctor.stderr).toBe('');
    expect(JSON.parse(doctor.stdout).checks.length).toBeGreaterThan(3);
    const iommu = await runCli(['iommu', '--root', empty], { env: noAddon });
    expect(iommu.code, iommu.stderr).toBe(0);
    expect(iommu.stdout).toMatch(/no IOMMU groups/);
  });

  it('send does not load it: it gets as far as connecting', async () => {
    const r = await runReportingLibraries(['send', '--spice', '127.0.0.1:1', 'key', 'KeyA'], noAddon);
    expect(r.code).toBe(4); // SPICE unreachable: the host refused
    expect(r.stderr).toMatch(/cannot connect to the SPICE server at 127\.0\.0\.1:1/);
    expect(r.loaded).toEqual([]);
  });

  it.each([
    ['view', '--shm', '/dev/shm/glasspane-none', '--headless', '--seconds', '1'],
    ['stub', '--shm', '/dev/shm/glasspane-none', '--seconds', '1'],
    ['demo', '--seconds', '1'],
  ])('%s says the addon is missing and what to run, exit status 4 (the host lacks a part), before doing anything', async (...args) => {
    const r = await runCli(args, { env: noAddon });
    expect(r.code).toBe(4);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(/^glasspane: the native addon build\/Release\/glasspane\.node is missing or does not load \(.*\)\n\s+fix: run `tools\/setup` in .* \(or `npm run build:native`; it needs g\+\+, make and python3\)\n$/);
    expect(r.stdout).toBe('');
  });
});

describe('npm start (the demo) without a display', () => {
  it('says there is no display, how to get the window, and runs the demo headless', async () => {
    const r = await runCli(['demo', '--size', '320x200', '--seconds', '2'], { env: { DISPLAY: undefined, WAYLAND_DISPLAY: undefined } });
    // 0, or 3 when a very busy machine let no frame through in the 2 s (the demo's own verdict).
    expect([0, 3], r.stderr).toContain(r.code);
    expect(r.stderr).toMatch(/^glasspane demo: there is no display here \(DISPLAY and WAYLAND_DISPLAY are unset\), so no window: running the demo headless instead\.\n\s+to see the window: .*desktop session.*ssh -X/);
    expect(r.stdout).toMatch(/^demo: \d+ frames verified with 0 failures/m);
  });

  it('--headless asked for it: no apology', async () => {
    const r = await runCli(['demo', '--headless', '--size', '320x200', '--seconds', '1']);
    expect(r.stderr).not.toMatch(/no display/);
    expect(r.stderr).toMatch(/^glasspane demo: guest-stub writes 320x200/);
  });
});

describe('a demo that is killed', () => {
  /** Pids of processes whose command line mentions `text`. */
  const processesWith = (text: string) =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(text);
        } catch {
          return false;
        }
      });

  it('takes its stub with it, and the next demo removes the region it left', async () => {
    const demo = startCli(['demo', '--headless', '--size', '320x200']);
    const region = `/dev/shm/glasspane-demo-${demo.child.pid}`;
    try {
      await waitFor(() => /^frames [1-9]/m.test(demo.stdout()), 120_000, 'the demo running');
      expect(processesWith(`stub --shm ${region}`)).toHaveLength(1);
    } finally {
      demo.child.kill('SIGKILL');
      await demo.exited;
    }
    await waitFor(() => processesWith(`stub --shm ${region}`).length === 0, 60_000, 'the stub to stop with its demo');
    expect(existsSync(region)).toBe(true); // nobody was left to remove it...
    const next = await runCli(['demo', '--headless', '--size', '320x200', '--seconds', '1']);
    expect([0, 3], next.stderr).toContain(next.code);
    expect(existsSync(region)).toBe(false); // ...until the next demo
  }, 240_000);
});
