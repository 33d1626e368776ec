/**
 * Makes docs/demo.png (the README's picture): `npm run docs:demo-png`. Runs the real demo under a
 * private Xvfb at 1280x800, captures, sends a few keys and a click to the stub (which draws what
 * it received), holds the escape key for the help overlay, and saves the screen. Run it again
 * whenever the OSD, the help or the stub's input scene change how they look. Needs Xvfb, xdotool
 * and xwd (tools/setup installs them) and a built tree (npm run build).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCanvas } from '@napi-rs/canvas';
import { startXvfb, xdotool } from '../test/support/xvfb.js';
import { screenshot } from '../test/support/xwd.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const out = join(root, 'docs', 'demo.png');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(100)) if (Date.now() > end) throw new Error(`demo-png: timed out waiting for ${what}`);
}

const x = await startXvfb(1280, 800);
const demo = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'demo', '--size', '1920x1080'], { env: x.env, stdio: 'inherit' });
try {
  let win = '';
  await until('the demo window', () => {
    try {
      win = xdotool(x, 'search', '--name', 'glasspane - demo').split('\n')[0]!;
    } catch {
      win = '';
    }
    return win !== '';
  });
  await sleep(2000); // frames and the OSD's first second of figures
  xdotool(x, 'windowfocus', '--sync', win);
  xdotool(x, 'key', 'Scroll_Lock'); // capture on
  await sleep(500);
  xdotool(x, 'key', 'Home', 'a', 'mousemove_relative', '--', '40', '30', 'click', '1');
  await sleep(1500);
  xdotool(x, 'keydown', 'Scroll_Lock'); // held: the help overlay
  await sleep(1200);
  const img = screenshot(x.display);
  xdotool(x, 'keyup', 'Scroll_Lock');
  const canvas = createCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  const data = ctx.createImageData(img.width, img.height);
  for (let y = 0; y < img.height; y++) {
    for (let px = 0; px < img.width; px++) {
      const [r, g, b] = img.rgb(px, y);
      data.data.set([r, g, b, 255], (y * img.width + px) * 4);
    }
  }
  ctx.putImageData(data, 0, 0);
  writeFileSync(out, canvas.toBuffer('image/png'));
  process.stdout.write(`demo-png: wrote ${out} (${img.width}x${img.height})\n`);
} finally {
  demo.kill('SIGTERM');
  await new Promise((r) => demo.once('exit', r));
  await x.stop();
}
