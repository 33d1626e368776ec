/**
 * The viewer window with another frame source behind it, for the window trials' side-by-side
 * figures: what `glasspane view --stats` runs (the same Viewer, window size, OSD and stats lines on
 * stdout), with Looking Glass B7's 1 ms polling consumer on its own thread (poll-source.ts)
 * instead of glasspane's relay thread.
 *   node dist/bench/view-host.js --shm PATH --size WxH [--title T]
 * Ends on SIGTERM/SIGINT.
 */
import { Viewer } from '../src/viewer/viewer.js';
import { NullInputSink } from '../src/input/sink.js';
import { PollSource } from './poll-source.js';
import { parseArgs, parseMode } from './lib.js';

const args = parseArgs(process.argv.slice(2));
const shm = args.get('shm');
if (!shm) throw new Error('--shm is required');
const size = parseMode(args.get('size') ?? '1280x720');
const viewer = new Viewer({
  shm,
  size: { width: size.width, height: size.height },
  sink: new NullInputSink(),
  inputName: 'none',
  title: args.get('title') ?? 'glasspane bench (1 ms poll)',
  source: new PollSource(shm),
  onFigures: (f) => process.stdout.write(`${JSON.stringify(f)}\n`),
  onMessage: (m) => process.stderr.write(`view-host: ${m}\n`),
});
const stop = () => void viewer.close();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
await viewer.run();
process.exit(0);
