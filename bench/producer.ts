/**
 * The producer side of the frame trials, in its own process (as the guest is): guest-stub's
 * StubProducer writing the verifiable "bars" scene, post first and then pixels with the write
 * pointer advancing every 1 MiB, as B7 does.
 *   node dist/bench/producer.js --shm PATH --mode WxH --fps N [--idle] [--frames N] [--scene solid]
 * Prints `READY` once the region exists and the session is up, its statistics as a
 * BENCH_RESULT line when it gets SIGTERM, and a `STATS` snapshot line on each SIGUSR1. `--idle`:
 * heartbeat only, no frames; `--frames N`: N frames, then only the heartbeat (a guest desktop
 * that stopped changing: the idle trial). `--scene solid`: every frame one solid colour naming
 * its serial (bench/solid.ts) and no cursor, for the glass-to-glass probe; each frame's serial,
 * post time and write-done time go into the result's `frameLog`.
 */
import { StubProducer } from '../guest-stub/producer.js';
import { regionSizeMiB } from '../src/kvmfr/sizing.js';
import type { Region } from '../src/region.js';
import { emitResult, numArg, parseArgs, parseMode, summarize } from './lib.js';
import { SolidScene } from './solid.js';

const args = parseArgs(process.argv.slice(2));
const shm = args.get('shm');
if (!shm) throw new Error('--shm is required');
const mode = parseMode(args.get('mode') ?? '1920x1080');
const idle = args.has('idle');
const solid = args.get('scene') === 'solid';

const stub = new StubProducer({
  shmPath: shm,
  sizeMiB: regionSizeMiB(mode.width, mode.height),
  width: mode.width,
  height: mode.height,
  fps: numArg(args, 'fps', 60),
  scene: 'bars',
  format: 'bgra',
  // Idle: zero frames to post, so the loop only keeps the session alive: the 10 ms heartbeat
  // (LGMP timestamp, subscriber timeouts, the cursor for new subscribers) runs until stop().
  // (A loop of zero seconds no longer does: the stub's heartbeat stops with its frame loop.)
  frames: idle ? 0 : args.has('frames') ? numArg(args, 'frames', 1) : undefined,
});
// The solid scene replaces the bars (benchmark only: the stub's painter and cursor are private).
const scene = new SolidScene();
if (solid) {
  const internals = stub as unknown as { painter: { scene: unknown }; postCursor: () => void };
  internals.painter.scene = scene;
  internals.postCursor = () => undefined; // no cursor over the probed pixel
}
const frameLog: Array<[number, string, string]> = [];

// Probe (benchmark only): the time from the post timestamp the stub puts in the pixels to the
// end of that frame's pixel write, as this process sees it, by wrapping the region's writeIn (the
// stub writes each frame synchronously right after posting it). The consumer cannot hold the whole frame before the
// producer has written it.
const writeDoneUs: number[] = [];
const writeDone: Array<[string, string]> = [];
const region = (stub as unknown as { region: Region }).region;
const postedAt = (src: ArrayBufferView | ArrayBuffer): bigint => {
  const bytes = ArrayBuffer.isView(src) ? Buffer.from(src.buffer, src.byteOffset, src.byteLength) : Buffer.from(src);
  return bytes.length >= 16 ? bytes.readBigUInt64LE(8) : 0n;
};
const record = (postedNs: bigint): void => {
  if (postedNs <= 0n || writeDoneUs.length >= 100_000) return;
  const now = process.hrtime.bigint();
  writeDoneUs.push(Number(now - postedNs) / 1e3);
  writeDone.push([postedNs.toString(), now.toString()]);
  if (solid) frameLog.push([scene.lastSerial, postedNs.toString(), now.toString()]);
};
const writeIn = region.writeIn.bind(region);
const timedWriteIn: Region['writeIn'] = (src, srcOffset, dstOffset, length, wpOffset, step) => {
  writeIn(src, srcOffset, dstOffset, length, wpOffset, step);
  record(postedAt(src));
};
// The addon's methods are read-only prototype properties: shadow it on the instance.
Object.defineProperty(region, 'writeIn', { value: timedWriteIn });

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await stub.stop();
  emitResult({ ...stub.stats, writeDoneUs: summarize(writeDoneUs), writeDone, ...(solid ? { frameLog } : {}) });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
// A snapshot on request (the window trial's measuring window): `STATS {framesPosted, …, atNs}`.
process.on('SIGUSR1', () => process.stdout.write(`STATS ${JSON.stringify({ framesPosted: stub.stats.framesPosted, waitsForConsumer: stub.stats.waitsForConsumer, atNs: String(process.hrtime.bigint()) })}\n`));
process.on('SIGINT', () => void stop());
// The trial holds our stdin: when it ends (the trial exited or crashed), stop too.
process.stdin.on('end', () => void stop());
process.stdin.resume();

const running = stub.run();
process.stdout.write('READY\n');
await running;
if (!idle && !args.has('frames')) await stop(); // else the heartbeat and stdin keep us alive until SIGTERM
