/**
 * `npm run -s e2e [-- --json] [-- --keys N --mouse N --width W --height H --fps F] [-- --skip-av]`
 * (-s: no npm banner on stdout before the JSON): boots the e2e guest, runs the input loop
 * (loop.ts), then the audio/mouse/lock-key scene (av.ts) in a second guest, and prints the
 * results. Exit status 0 when every key and mouse move was echoed, every frame verified, the
 * tones heard and the mouse exact; 1 otherwise; 2 when it cannot run here.
 */
import { parseArgs } from 'node:util';
import { runLoop } from './loop.js';
import { e2eUnavailable } from './guest.js';
import { avUnavailable, runAv, type AvResult } from './av.js';
import { npmBannerNote } from '../../src/npm-banner.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    keys: { type: 'string', default: '40' },
    mouse: { type: 'string', default: '8' },
    width: { type: 'string', default: '640' },
    height: { type: 'string', default: '360' },
    fps: { type: 'string', default: '60' },
    'skip-av': { type: 'boolean', default: false },
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
let av: AvResult | undefined;
if (!values['skip-av']) {
  const whyNot = avUnavailable();
  if (whyNot) process.stderr.write(`e2e: audio/mouse scene skipped: ${whyNot}\n`);
  else av = await runAv({ log: (l) => process.stderr.write(`e2e av: ${l}\n`) });
}
const near = (heard: number | null, want: number) => heard !== null && Math.abs(heard - want) / want < 0.02;
const avOk =
  !av ||
  (av.errors.length === 0 &&
    near(av.audio.heardHz, av.audio.toneHz) &&
    near(av.audio.micHeardHz, av.audio.micHz) &&
    av.mouse.guestDx === av.mouse.sentDx &&
    av.mouse.guestDy === av.mouse.sentDy);
const ok = r.keysEchoed === r.keysSent && r.mouseEchoed === r.mouseSent && r.verifyFailures === 0 && r.framesFromGuest > 0 && avOk;
if (values.json) {
  const { serialTail, ...rest } = r;
  const extra = av ? { audio: av.audio, mouse: av.mouse, locks: av.locks, avErrors: av.errors } : {};
  process.stdout.write(`${JSON.stringify({ ...rest, ...extra })}\n`);
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
    ...(av
      ? [
          `guest tone ${av.audio.toneHz} Hz heard  ${av.audio.heardHz ?? '-'} Hz (rms ${av.audio.heardRms ?? '-'})`,
          `audio latency           p50 ${av.audio.latencyMs.p50 ?? '-'} ms, p99 ${av.audio.latencyMs.p99 ?? '-'} ms (transport p50 ${av.audio.transportMs.p50 ?? '-'} ms), ${av.audio.underruns ?? '-'} underruns in ${av.audio.packets} packets`,
          `microphone ${av.audio.micHz} Hz in guest  ${av.audio.micHeardHz ?? '-'} Hz`,
          `relative mouse          sent (${av.mouse.sentDx}, ${av.mouse.sentDy}), guest got (${av.mouse.guestDx}, ${av.mouse.guestDy}); ${av.mouse.qemuMotions}/${av.mouse.moves} motions`,
          `lock keys (guest LEDs)  ${JSON.stringify(av.locks)}`,
          ...av.errors.map((e) => `error: ${e}`),
        ]
      : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (r.serialTail) process.stderr.write(`guest serial tail:\n${r.serialTail}\n`);
}
process.exit(ok ? 0 : 1);
