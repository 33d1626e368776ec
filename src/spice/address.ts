/**
 * SPICE addresses as the user writes them: `HOST:PORT`, `[IPv6]:PORT` or `unix:/path/to/socket`
 * (QEMU's `-spice unix=on,addr=PATH`). Parsed into node:net connect options.
 */
import { SpiceError } from './errors.js';

/**
 * A parsed SPICE address: a TCP host (name, IPv4 or IPv6 without brackets) and port 1..65535, or a
 * unix socket path.
 */
export type SpiceAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `unix:/path` (see the module comment). Throws SpiceError
 * ERR_SPICE_ADDRESS naming what is wrong (no port, port outside 1..65535, no path). Does not
 * resolve the host or check that the socket exists.
 */
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

/** The address as the user would write it (IPv6 hosts in brackets); parseSpiceAddress() reads it back. */
export function formatSpiceAddress(a: SpiceAddress): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
