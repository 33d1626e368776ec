/**
 * The relay's frame pump, one of its parts: takes one message off the frame queue, validates the
 * KVMFRFrame it points at, copies the pixels into a slot of the frame store while following the
 * producer's write pointer, acknowledges only after the copy (until then the producer must not
 * reuse its buffer), and delivers the frame. Every path that took a slot gives it back unless the
 * frame was delivered; a slot that does not come free in time costs that frame (skipped and
 * counted), never the producer's progress.
 */
import { readFrame, type FrameInfo } from '../kvmfr/frame.js';
import { HEADER } from '../lgmp/layout.js';
import { GlasspaneError } from '../errors.js';
import type { FrameStore } from './frame-store.js';
import type { RelayConnection } from './relay-connection.js';
import type { RelayReporter } from './relay-reporter.js';
import type { RelayThread } from './relay-thread.js';
import type { RelayOptions } from './relay-types.js';

/** One relay's frame pump (see the module comment). Same thread as its relay. */
export class FramePump {
  /** Counters at the last delivery: skipped frames or a new session since then break the damage chain. */
  private lastSkipped = 0;
  private lastSession = -1;

  constructor(
    private readonly options: RelayOptions,
    private readonly conn: RelayConnection,
    private readonly report: RelayReporter,
    private readonly thread: RelayThread,
    private readonly store: FrameStore,
    private readonly closed: () => boolean,
  ) {}

  /**
   * Handles one frame message if there is one; true when it did. `wokeAtNs`: when the wait that
   * found it ended (0n: no wait). Throws SessionEnded/RegionLost as the connection does.
   */
  async pump(wokeAtNs: bigint): Promise<boolean> {
    const conn = this.conn;
    const q = conn.frameQ!;
    const msg = q.process();
    if (typeof msg === 'string') {
      conn.handleStatus('frame', msg, q);
      return false;
    }
    const seenAtNs = process.hrtime.bigint();
    const held = conn.held!;
    let info: FrameInfo;
    try {
      info = readFrame(held.dv, held.region.byteLength, msg.offset, msg.size);
    } catch (err) {
      this.report.problem(err);
      conn.acknowledge('frame', q);
      return true;
    }
    if (info.badDamage) this.report.problem(new GlasspaneError('ERR_BAD_FRAME', `ignored bad damage data: ${info.badDamage}`));
    if (info.formatVer !== conn.lastFormatVer) {
      conn.lastFormatVer = info.formatVer;
      this.report.dispatch('format', info);
    }
    const waitMs = this.options.bufferWaitMs ?? 500;
    const slot = await this.store.acquire(info.dataBytes, waitMs);
    if (slot === 'closed') return false;
    if (slot === 'timeout') {
      // Whoever holds the frames (a viewer stuck in a render) must not stop the producer.
      this.report.counters.framesSkipped++;
      this.report.problem(new GlasspaneError('ERR_FRAMES_HELD', `no frame buffer was released for ${waitMs} ms; frames are skipped until one is`, 'the window is not presenting: check that it is not frozen or minimised on a stalled compositor'));
      conn.acknowledge('frame', q);
      return true;
    }
    // From here the slot goes back to the store on every path except a delivery.
    let delivered = false;
    try {
      let copied = 0;
      let copyError: unknown = null;
      try {
        // A new session id ends the wait at once: the producer restarted under this frame.
        const session = conn.consumer!.sessionInfo!.sessionID;
        copied = await this.thread.copy(held.region, info.dataOffset, info.dataBytes, slot.data, 0, info.wpOffset, this.options.copyTimeoutMs ?? 100, HEADER.sessionID, session);
      } catch (err) {
        copyError = err;
      }
      if (this.closed()) return false;
      // A bad status (the producer restarted during the copy, we timed out) drops the frame.
      const acked = conn.acknowledge('frame', q);
      if (copyError) throw copyError;
      if (held.region.broken) conn.checkRegion();
      if (!acked) {
        this.report.counters.framesSkipped++;
        return true;
      }
      if (copied < info.dataBytes) {
        this.report.counters.framesSkipped++;
        this.report.problem(new GlasspaneError('ERR_FRAME_STALLED', `frame ${info.frameSerial}: the producer stopped writing at ${copied} of ${info.dataBytes} bytes; frame dropped`));
        return true;
      }
      const c = this.report.counters;
      // Frames the relay skipped, or a new session, break the chain of damage rectangles.
      const discontinuous = c.framesSkipped !== this.lastSkipped || c.sessions !== this.lastSession;
      this.lastSkipped = c.framesSkipped;
      this.lastSession = c.sessions;
      delivered = true;
      this.report.succeeded();
      this.store.deliver(slot.slot, info, process.hrtime.bigint(), discontinuous, { seenAtNs, wokeAtNs });
      return true;
    } finally {
      if (!delivered) this.store.abandon(slot.slot);
    }
  }
}
