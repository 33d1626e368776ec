/**
 * SPICE addresses as the user writes them: `HOST:PORT`, `[IPv6]:PORT` or `unix:/path/to/socket`
 * (QEMU's `-spice unix=on,addr=PATH`). Parsed into node:net connect options.
 */
import { SpiceError } from './errors.js';

export type SpiceAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseSpiceAddress(text: string): SpiceAddress {
  const bad = (why: string) =>
    new SpiceError('ERR_SPICE_ADDRESS', `bad SPICE address "${text}": ${why}`, 'write HOST:PORT (e.g. 127.0.0.1:5900) or unix:/path/to/spice.sock');
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path) throw bad('no socket path after "unix:"');
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!m) throw bad('expected HOST:PORT');
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${m[3]} is not in 1..65535`);
  return { kind: 'tcp', host: (m[1] ?? m[2])!, port };
}

export function formatSpiceAddress(a: SpiceAddress): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
