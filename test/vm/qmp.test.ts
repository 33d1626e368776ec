/** QMP client against a scripted server on a real unix socket: framing, ids, errors, events, EOF. */
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_KEPT_EVENTS, connectQmp } from '../../src/vm/qmp.js';
import { makeTempDir } from './fake-sysfs.js';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\r\n';
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A server that greets, then answers each command via `answer` (which may write anything). */
function server(answer: (cmd: { execute: string; id?: string }, sock: net.Socket) => void, greet = true): Promise<string> {
  const dir = makeTempDir('glasspane-qmp-');
  const file = path.join(dir, 'qmp.sock');
  const srv = net.createServer((sock) => {
    if (greet) sock.write(GREETING);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        answer(JSON.parse(line), sock);
      }
    });
  });
  cleanups.push(() => {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return new Promise((resolve) => srv.listen(file, () => resolve(file)));
}

describe('QMP client', () => {
  it('negotiates capabilities, matches replies by id across split chunks, and delivers events', async () => {
    const file = await server((cmd, sock) => {
      if (cmd.execute === 'qmp_capabilities') return sock.write(`{"return": {}, "id": "${cmd.id}"}\r\n`);
      if (cmd.execute === 'query-status') {
        // an event first, then the reply split in the middle, with an unknown key (7.2 adds singlestep)
        const reply = `{"return": {"status": "running", "singlestep": false, "running": true}, "id": "${cmd.id}"}\r\n`;
        sock.write('{"event": "RESUME", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n');
        sock.write(reply.slice(0, 20));
        setTimeout(() => sock.write(reply.slice(20)), 10);
      }
    });
    const qmp = await connectQmp(file, { timeoutMs: 2000 });
    const events: string[] = [];
    qmp.on('event', (e) => events.push(e.event));
    expect(await qmp.execute('query-status')).toEqual({ status: 'running', singlestep: false, running: true });
    expect(events).toEqual(['RESUME']);
    qmp.close();
  });

  it('keeps only the newest events: a supervisor connected for days does not grow without bound', async () => {
    const total = MAX_KEPT_EVENTS * 4;
    const file = await server((cmd, sock) => {
      if (cmd.execute === 'qmp_capabilities') return sock.write(`{"return": {}, "id": "${cmd.id}"}\r\n`);
      let out = '';
      for (let i = 0; i < total; i++) out += `{"event": "RTC_CHANGE", "data": {"offset": ${i}}, "timestamp": {"seconds": ${i}, "microseconds": 0}}\r\n`;
      sock.write(`${out}{"return": {}, "id": "${cmd.id}"}\r\n`);
    });
    const qmp = await connectQmp(file, { timeoutMs: 2000 });
    await qmp.execute('query-status');
    expect(qmp.events).toHaveLength(MAX_KEPT_EVENTS);
    expect(qmp.events.at(-1)!.data).toEqual({ offset: total - 1 });
    expect(await qmp.waitForEvent('RTC_CHANGE', 10)).not.toBeNull(); // recent ones are still found
    qmp.close();
  });

  it('turns an error reply into ERR_QMP_COMMAND naming the command and class', async () => {
    const file = await server((cmd, sock) => {
      if (cmd.execute === 'qmp_capabilities') return sock.write(`{"return": {}, "id": "${cmd.id}"}\n`);
      sock.write(`{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": "${cmd.id}"}\n`);
    });
    const qmp = await connectQmp(file);
    const err = (await qmp.execute('nope').catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('ERR_QMP_COMMAND');
    expect(err.message).toBe('QMP nope failed: CommandNotFound: The command nope has not been found');
    qmp.close();
  });

  it('quit succeeds on EOF; EOF after SHUTDOWN vs without it tells a clean end from a crash', async () => {
    const file = await server((cmd, sock) => {
      if (cmd.execute === 'qmp_capabilities') return sock.write(`{"return": {}, "id": "${cmd.id}"}\n`);
      if (cmd.execute === 'quit') sock.end('{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}\n');
      if (cmd.execute === 'crash') sock.destroy();
    });
    const a = await connectQmp(file);
    await expect(a.execute('quit')).resolves.toEqual({});
    expect(await a.closed).toEqual({ shutdownSeen: true });
    const b = await connectQmp(file);
    const pending = b.execute('crash').then(() => null, (e: unknown) => e as Error & { code: string });
    expect(await b.closed).toEqual({ shutdownSeen: false });
    expect((await pending)?.code).toBe('ERR_QMP_CLOSED');
  });

  it('reports a monitor that never greets as busy, and a missing socket after the deadline', async () => {
    const file = await server(() => {}, false);
    const busy = await connectQmp(file, { timeoutMs: 1000 }).catch((e) => e);
    expect(busy.code).toBe('ERR_QMP_BUSY');
    const missing = await connectQmp(path.join(path.dirname(file), 'none.sock'), { timeoutMs: 200 }).catch((e) => e);
    expect(missing.code).toBe('ERR_QMP_CONNECT');
    expect(missing.message).toMatch(/ENOENT/);
  });
});
