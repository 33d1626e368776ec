/**
 * `npm run -s e2e [-- --json] [-- --keys N --mouse N --width W --height H --fps F]` (-s: no npm
 * banner on stdout before the JSON): boots the e2e
 * guest, runs the input loop (loop.ts) and prints the result. Exit status 0 when every key and
 * mouse move was echoed and every frame verified, 1 otherwise, 2 when it cannot run here.
 */
import { parseArgs } from 'node:util';
import { runLoop } from './loop.js';
import { e2eUnavailable } from './guest.js';
import { npmBannerNote } from '../../src/npm-banner.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    keys: { type: 'string', default: '40' },
    mouse: { type: 'string', default: '8' },
    width: { type: 'string', default: '640' },
    height: { type: 'string', default: '360' },
    fps: { type: 'string', default: '60' },
  },
});
const int = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`e2e: --${name} ${v} is not a whole number\n`);
    process.exit(2);
  }
  return n;
};

const why = e2eUnavailable();
if (why) {
  process.stderr.write(`e2e: cannot run: ${why}\n`);
  process.exit(2);
}
const r = await runLoop({
  keys: int('keys', values.keys!),
  mouseMoves: int('mouse', values.mouse!),
  width: int('width', values.width!),
  height: int('height', values.height!),
  fps: int('fps', values.fps!),
  log: (l) => process.stderr.write(`e2e: ${l}\n`),
});
const ok = r.keysEchoed === r.keysSent && r.mouseEchoed === r.mouseSent && r.verifyFailures === 0 && r.framesFromGuest > 0;
if (values.json) {
  const { serialTail, ...rest } = r;
  process.stdout.write(`${JSON.stringify(rest)}\n`);
  const note = npmBannerNote();
  if (note) process.stderr.write(`e2e: ${note}\n`);
  if (serialTail) process.stderr.write(`e2e: guest serial tail:\n${serialTail}\n`);
} else {
  const lines = [
    `frames from the guest   ${r.framesFromGuest} (verify failures ${r.verifyFailures})`,
    `keys echoed             ${r.keysEchoed}/${r.keysSent}`,
    `mouse moves echoed      ${r.mouseEchoed}/${r.mouseSent}`,
    `input to frame          p50 ${r.inputToFrameMs.p50 ?? '-'} ms, p99 ${r.inputToFrameMs.p99 ?? '-'} ms (${r.samples} key events)`,
    `guest event → stub read p50 ${r.guestQueueUs.p50 === null ? '-' : (r.guestQueueUs.p50 / 1000).toFixed(2)} ms (guest clock)`,
    `boot to first frame     ${r.bootMs} ms`,
    ...r.errors.map((e) => `error: ${e}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (r.serialTail) process.stderr.write(`guest serial tail:\n${r.serialTail}\n`);
}
process.exit(ok ? 0 : 1);
