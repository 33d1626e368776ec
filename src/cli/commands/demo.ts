/** `glasspane demo` (what `npm start` runs): guest-stub and a verifying consumer, live statistics. */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { runHeadlessView, exitStatusFor } from './view.js';
import { intOption, numberOption, sizeOption } from '../options.js';
import { regionSizeMiB } from '../../kvmfr/sizing.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run guest-stub and a consumer that verifies every frame, with live statistics')
    .option('--size <WxH>', 'frame size', sizeOption('--size'), { width: 1920, height: 1080 })
    .option('--fps <n>', 'frame rate', intOption('--fps', 1, 1000), 60)
    .option('--seconds <s>', 'stop after this many seconds (default: until Ctrl-C)', numberOption('--seconds', 0, 1e7))
    .addHelpText('after', '\nExample:\n  glasspane demo --size 2560x1440 --fps 144 --seconds 10')
    .action(async (o: { size: { width: number; height: number }; fps: number; seconds?: number }) => {
      const shm = `/dev/shm/glasspane-demo-${process.pid}`;
      const { width, height } = o.size;
      process.stderr.write(`glasspane demo: guest-stub writes ${width}x${height} at ${o.fps} fps into ${shm}; the consumer verifies every frame (Ctrl-C stops)\n`);
      const stub = spawn(
        process.execPath,
        [process.argv[1]!, 'stub', '--shm', shm, '--size', String(regionSizeMiB(width, height)), '--width', String(width), '--height', String(height), '--fps', String(o.fps), '--quiet'],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      const stubExit = new Promise<number | null>((resolve) => stub.once('exit', (code) => resolve(code)));
      // Let the stub create the region first, so the consumer does not start by reporting it missing.
      for (let i = 0; i < 100 && !existsSync(shm); i++) await new Promise((r) => setTimeout(r, 50));
      try {
        const r = await Promise.race([
          runHeadlessView({ shm, headless: true, verify: true, seconds: o.seconds }, (l) => process.stdout.write(`${l}\n`)),
          stubExit.then((code) => {
            throw new Error(`guest-stub exited (status ${code}) before the demo ended`);
          }),
        ]);
        process.stdout.write(
          `demo: ${r.frames} frames verified with ${r.verifyFailures} failures, ${r.ups} ups, post→copied latency p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms\n`,
        );
        process.exitCode = exitStatusFor(r);
      } finally {
        stub.kill('SIGTERM');
        await stubExit;
        rmSync(shm, { force: true });
      }
    });
}
