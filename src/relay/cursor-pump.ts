/**
 * The relay's cursor pump, one of its parts: drains the pointer queue, turning each message into
 * a 'cursor' event (position, visibility, and a private copy of the shape's pixels), and carries
 * SETCURSORPOS requests the other way when the producer supports them.
 */
import { encodeSetCursorPos, readCursor } from '../kvmfr/cursor.js';
import { KVMFR } from '../kvmfr/layout.js';
import type { RelayConnection } from './relay-connection.js';
import type { RelayReporter } from './relay-reporter.js';
import type { CursorEvent } from './relay-types.js';

/** One relay's cursor pump (see the module comment). Same thread as its relay. */
export class CursorPump {
  constructor(
    private readonly conn: RelayConnection,
    private readonly report: RelayReporter,
  ) {}

  /** Drains cursor messages; true when there were any. Throws SessionEnded as the connection does. */
  pump(): boolean {
    let any = false;
    for (;;) {
      const conn = this.conn;
      const q = conn.pointerQ!;
      const msg = q.process();
      if (typeof msg === 'string') {
        conn.handleStatus('pointer', msg, q);
        return any;
      }
      any = true;
      try {
        const held = conn.held!;
        const u = readCursor(held.dv, held.region.byteLength, msg.udata, msg.offset, msg.size);
        const ev: CursorEvent = { visible: u.visible, position: u.position };
        if (u.shape) {
          const pixels = Buffer.alloc(u.shape.dataBytes);
          held.region.copyOut(u.shape.dataOffset, u.shape.dataBytes, pixels, 0, -1, 0);
          ev.shape = { ...u.shape, pixels };
        }
        this.report.dispatch('cursor', ev);
      } catch (err) {
        this.report.problem(err);
      }
      const done = q.messageDone();
      if (done !== 'ok' && done !== 'empty') {
        conn.handleStatus('pointer', done, q);
        return any;
      }
    }
  }

  /** Asks the producer to move the guest cursor (only when the producer supports it). */
  setPosition(x: number, y: number): boolean {
    const q = this.conn.pointerQ;
    const kvmfr = this.conn.session;
    if (!q || !kvmfr || !(kvmfr.features & KVMFR.FEATURE_SETCURSORPOS)) return false;
    try {
      return typeof q.sendData(encodeSetCursorPos(x, y)) === 'number';
    } catch (err) {
      this.report.problem(err);
      return false;
    }
  }
}
