/**
 * A full-screen load for the capture trial: repaints the whole root window of an X display in
 * alternating colours at a given rate, as a video or a game would change every pixel. A minimal
 * X11 client over the display's unix socket (no Xlib in this process, so it adds nothing to the
 * capture's own cost): connection setup without authorization (bench Xvfb servers accept local
 * clients), then per paint ChangeWindowAttributes(background pixel) + ClearArea(whole window) and
 * a GetInputFocus round trip, so paints never queue up faster than the server does them.
 *   node dist/bench/x11-painter.js --display :N --fps F --seconds S
 * Prints one line at the end on stdout: `PAINTED <count>`.
 */
import { connect, type Socket } from 'node:net';
import { numArg, parseArgs } from './lib.js';

/** Reads exactly `n` bytes from `sock` (buffered across chunks). */
function reader(sock: Socket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let want: { n: number; resolve: (b: Buffer) => void } | null = null;
  const check = () => {
    if (want && buf.length >= want.n) {
      const out = buf.subarray(0, want.n);
      buf = buf.subarray(want.n);
      const w = want;
      want = null;
      w.resolve(Buffer.from(out));
    }
  };
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    check();
  });
  return (n) =>
    new Promise((resolve) => {
      want = { n, resolve };
      check();
    });
}

const args = parseArgs(process.argv.slice(2));
const display = args.get('display') ?? process.env.DISPLAY ?? '';
const fps = numArg(args, 'fps', 60);
const seconds = numArg(args, 'seconds', 3);
const m = /^:(\d+)/.exec(display);
if (!m) throw new Error(`--display ${display} is not a local display`);
const sock = connect(`/tmp/.X11-unix/X${m[1]}`);
await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
const read = reader(sock);
// Setup: little-endian, protocol 11.0, no authorization.
const setup = Buffer.alloc(12);
setup.write('l', 0, 'latin1');
setup.writeUInt16LE(11, 2);
sock.write(setup);
const head = await read(8);
if (head[0] !== 1) throw new Error(`the X server refused the connection (status ${head[0]})`);
const body = await read(head.readUInt16LE(6) * 4);
const vendorLen = body.readUInt16LE(16);
const formats = body[21]!;
const root = body.readUInt32LE(32 + Math.ceil(vendorLen / 4) * 4 + 8 * formats);

const paint = (pixel: number) => {
  const req = Buffer.alloc(32);
  req[0] = 2; // ChangeWindowAttributes
  req.writeUInt16LE(4, 2);
  req.writeUInt32LE(root, 4);
  req.writeUInt32LE(0x2, 8); // CWBackPixel
  req.writeUInt32LE(pixel, 12);
  req[16] = 61; // ClearArea, exposures false, the whole window
  req.writeUInt16LE(4, 18);
  req.writeUInt32LE(root, 20);
  sock.write(req);
};
const roundTrip = async () => {
  sock.write(Buffer.from([43, 0, 1, 0])); // GetInputFocus
  await read(32);
};

let painted = 0;
const period = fps > 0 ? 1000 / fps : 0;
const start = performance.now();
let next = start;
while (performance.now() - start < seconds * 1000) {
  paint(painted % 2 ? 0x203040 : 0x405060);
  await roundTrip();
  painted++;
  next += period;
  const wait = next - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
sock.end();
process.stdout.write(`PAINTED ${painted}\n`);
