/**
 * The receive side of one SPICE channel as an explicit state machine over partial input:
 * `feed()` takes whatever bytes the socket delivered (one byte or a megabyte) and returns the
 * events completed by them; nothing is lost between calls. `end()` is called on EOF and throws
 * ERR_SPICE_CLOSED when the peer stopped in the middle of something.
 *
 * States: LINK_HEADER (16) → LINK_BODY (size) → AUTH_RESULT (4) → HEADER (6 or 18) → BODY
 * (→ SKIP) → HEADER... A message is kept only as far as its owner reads it (`keep(type)`): the
 * rest of a longer one is dropped as it streams by (SKIP), never buffered, so a flood of 256 KB
 * PINGs costs 12 bytes per PING, not 256 KB.
 * The framing (mini or full header) is decided by the link reply: mini when we offered it and
 * the server's common caps include it.
 */
import { SpiceError } from './errors.js';
import { decodeHeader, headerSize } from './framing.js';
import { decodeLinkReply, type LinkReply } from './link.js';
import { CommonCap, hasCap, LINK_HEADER_SIZE, LinkError, MINI_HEADER_SIZE, SPICE_MAGIC, SPICE_VERSION_MAJOR } from './protocol.js';

/**
 * What feed() completed: the server's link reply ('link', error code included), its answer to the
 * ticket ('auth', a LinkError number), or one channel message (type and payload; the payload is a
 * view of the received bytes, never reused by the reader, at most `maxMessage` bytes).
 */
export type ReaderEvent =
  | { kind: 'link'; reply: LinkReply }
  | { kind: 'auth'; result: number }
  | { kind: 'message'; type: number; payload: Buffer };

type State = 'LINK_HEADER' | 'LINK_BODY' | 'AUTH_RESULT' | 'HEADER' | 'BODY' | 'SKIP' | 'DONE';

/** Largest link reply accepted (a real one is 178 bytes + a few caps words). */
const MAX_LINK_REPLY = 4096;
/**
 * Largest message accepted: 4 × the largest a SPICE server sends a client that links no display
 * (the main channel's 256 KB bandwidth-test PING; a playback DATA is a few KiB), far below harm.
 */
export const DEFAULT_MAX_MESSAGE = 1024 * 1024;
/** Pieces shorter than this are copied into a shared scratch buffer instead of kept one by one. */
const SMALL_PIECE = 512;
/** Size of that scratch buffer. */
const SCRATCH_BYTES = 16 * 1024;

/**
 * The state machine described above, for one channel. Pure: no socket, no clock. Memory is bounded
 * by what the peer sent: nothing is allocated for a claimed size before its bytes arrive, and a
 * message header claiming more than `maxMessage` (default 1 MiB) or a link reply outside 4..4096
 * bytes ends the stream. Pieces under 512 bytes are packed into 16 KiB scratch buffers, so a peer
 * that trickles a message one byte per packet costs its bytes, not an object per byte. After an
 * error or a refused link the reader is done and ignores input.
 */
export class SpiceReader {
  private state: State = 'LINK_HEADER';
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed (so a take does not make a new view of the rest each time). */
  private off = 0;
  private buffered = 0;
  private need = LINK_HEADER_SIZE;
  private mini = true;
  private msgType = 0;
  private readonly offerMini: boolean;
  private readonly maxMessage: number;
  private readonly keep: (type: number) => number;
  /** In SKIP: bytes of the current message still to drop. */
  private skipLeft = 0;
  /** The size the current message's header claimed. */
  private msgSize = 0;
  /** Scratch buffer small pieces are copied into (see the class comment), and how much of it is used. */
  private scratch: Buffer | null = null;
  private scratchUsed = 0;
  /** True while the last element of `chunks` is a view of `scratch` ending at scratchUsed. */
  private lastInScratch = false;
  /** The caller's piece during feed(): worked on in place, what of it stays is copied (adopt()). */
  private foreign: Buffer | null = null;

  /**
   * `keep(type)`: how many bytes of a message of that type its owner reads (default: all); the
   * payload it gets is cut to that, and the rest is skipped unbuffered.
   */
  constructor(opts: { offerMiniHeader?: boolean; maxMessage?: number; keep?: (type: number) => number } = {}) {
    this.offerMini = opts.offerMiniHeader ?? true;
    this.mini = this.offerMini;
    this.maxMessage = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
    this.keep = opts.keep ?? (() => Infinity);
  }

  /** True once the framing has been negotiated as the mini header. */
  get miniHeader(): boolean {
    return this.mini;
  }

  /** Where the reader is, for error messages and tests. */
  get where(): string {
    return `${this.state} (${this.buffered} of ${this.need} bytes)`;
  }

  /**
   * Takes the next bytes from the socket (any length; copied, so the caller may reuse `data`) and returns
   * the events they completed, in order. Throws SpiceError ERR_SPICE_MAGIC (not "REDQ", as soon as 4
   * bytes are in), ERR_SPICE_VERSION (major version not 2) or ERR_SPICE_PROTOCOL (a size out of
   * bounds, a malformed link reply); the reader is then done.
   */
  feed(data: Buffer): ReaderEvent[] {
    const events: ReaderEvent[] = [];
    if (this.state === 'DONE') return events;
    // The rest of a message nobody reads is skipped where it lies, never copied.
    if (this.state === 'SKIP' && this.buffered === 0) {
      const k = Math.min(this.skipLeft, data.length);
      this.skipLeft -= k;
      data = data.subarray(k);
      if (this.skipLeft === 0) {
        this.state = 'HEADER';
        this.need = headerSize(this.mini);
      }
    }
    // The piece is worked on where it lies; what of it is kept (a payload handed out, a tail not
    // yet complete) is copied, the rest (skipped bodies) never is (adopt(), take()).
    if (data.length) {
      this.chunks.push(data);
      this.buffered += data.length;
      this.foreign = data;
      this.lastInScratch = false;
    }
    try {
      this.run(events);
    } finally {
      this.adopt();
    }
    return events;
  }

  /** Steps the state machine over what is buffered, appending the events it completes. */
  private run(events: ReaderEvent[]): void {
    // Reject a non-SPICE peer as soon as 4 bytes arrive: a VNC server sends 12 bytes and waits.
    if (this.state === 'LINK_HEADER' && this.buffered >= 4) this.checkMagic(this.peek(4));
    while ((this.state as State) !== 'DONE') {
      if (this.state === 'SKIP') {
        const k = Math.min(this.buffered, this.skipLeft);
        this.drop(k);
        this.skipLeft -= k;
        if (this.skipLeft > 0) break;
        this.state = 'HEADER';
        this.need = headerSize(this.mini);
        continue;
      }
      if (this.buffered < this.need) break;
      // Fast path for the common case, a mini header inside one piece: read it where it lies.
      const first = this.chunks[0]!;
      if (this.state === 'HEADER' && this.mini && first.length - this.off >= MINI_HEADER_SIZE) {
        const type = first.readUInt16LE(this.off);
        const size = first.readUInt32LE(this.off + 2);
        this.skip(MINI_HEADER_SIZE);
        const ev = this.header(type, size);
        if (ev) events.push(ev);
        continue;
      }
      const bytes = this.take(this.need);
      const ev = this.step(bytes);
      if (ev) events.push(ev);
    }
  }

  /** Copies what is still buffered of the caller's piece into buffers of ours (see feed()). */
  private adopt(): void {
    const f = this.foreign;
    this.foreign = null;
    if (!f || this.chunks[this.chunks.length - 1] !== f) return;
    const last = this.chunks.length - 1;
    const rest = last === 0 ? f.subarray(this.off) : f;
    this.chunks.pop();
    if (last === 0) this.off = 0;
    this.buffered -= rest.length;
    if (rest.length) this.push(rest);
  }

  /** Call on EOF. Throws when the stream ended inside a header, body or handshake step. */
  end(): void {
    if (this.state === 'HEADER' && this.buffered === 0) return; // clean close between messages
    if (this.state === 'DONE') return;
    const what =
      this.state === 'BODY' || this.state === 'SKIP' ? `the body of message type ${this.msgType}` :
      this.state === 'HEADER' ? 'a message header' :
      this.state === 'AUTH_RESULT' ? 'the password check (the server dropped the connection before answering the ticket)' :
      'the link reply';
    throw new SpiceError(
      'ERR_SPICE_CLOSED',
      `SPICE server closed the connection in the middle of ${what}: got ${this.state === 'SKIP' ? this.msgSize - this.skipLeft : this.buffered} of ${this.state === 'BODY' || this.state === 'SKIP' ? this.msgSize : this.need} bytes`,
      'check that QEMU is still running (see its stderr); glasspane reconnects by itself when viewing',
    );
  }

  private checkMagic(first4: Buffer): void {
    const magic = first4.readUInt32LE(0);
    if (magic !== SPICE_MAGIC) {
      this.state = 'DONE';
      const printable = first4.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
      throw new SpiceError(
        'ERR_SPICE_MAGIC',
        `not a SPICE server: it answered 0x${magic.toString(16).padStart(8, '0')} ("${printable}") instead of "REDQ"`,
        'check the address: it must be the port or socket of QEMU\'s -spice option, not VNC, QMP or a serial port',
      );
    }
  }

  private step(bytes: Buffer): ReaderEvent | undefined {
    switch (this.state) {
      case 'LINK_HEADER': {
        this.checkMagic(bytes);
        const major = bytes.readUInt32LE(4);
        const size = bytes.readUInt32LE(12);
        if (major !== SPICE_VERSION_MAJOR) {
          this.state = 'DONE';
          throw new SpiceError('ERR_SPICE_VERSION', `SPICE server speaks protocol ${major}.${bytes.readUInt32LE(8)}, glasspane speaks 2.2`, 'use a SPICE server with protocol 2 (QEMU with spice-server 0.12 or newer)');
        }
        if (size < 4 || size > MAX_LINK_REPLY) {
          this.state = 'DONE';
          throw new SpiceError('ERR_SPICE_PROTOCOL', `SPICE link reply size ${size} is out of range 4..${MAX_LINK_REPLY}`, 'check that the address is a SPICE server', { permanent: true });
        }
        this.state = 'LINK_BODY';
        this.need = size;
        return undefined;
      }
      case 'LINK_BODY': {
        const reply = decodeLinkReply(bytes);
        if (reply.error !== LinkError.OK) {
          this.state = 'DONE';
        } else {
          this.mini = this.offerMini && hasCap(reply.commonCaps, CommonCap.MINI_HEADER);
          this.state = 'AUTH_RESULT';
          this.need = 4;
        }
        return { kind: 'link', reply };
      }
      case 'AUTH_RESULT': {
        const result = bytes.readUInt32LE(0);
        if (result !== LinkError.OK) {
          this.state = 'DONE';
        } else {
          this.state = 'HEADER';
          this.need = headerSize(this.mini);
        }
        return { kind: 'auth', result };
      }
      case 'HEADER': {
        const h = decodeHeader(bytes, this.mini);
        return this.header(h.type, h.size);
      }
      case 'BODY': {
        if (this.skipLeft > 0) this.state = 'SKIP';
        else {
          this.state = 'HEADER';
          this.need = headerSize(this.mini);
        }
        return { kind: 'message', type: this.msgType, payload: bytes };
      }
      default:
        return undefined;
    }
  }

  /** A message header (type, size) was read: its empty message, or on to its body. */
  private header(type: number, size: number): ReaderEvent | undefined {
    if (size > this.maxMessage) {
      this.state = 'DONE';
      throw new SpiceError('ERR_SPICE_PROTOCOL', `SPICE message type ${type} claims ${size} bytes, more than the ${this.maxMessage}-byte limit`, 'this is a server bug or not a SPICE server; report it with GLASSPANE_DEBUG=1 NODE_DEBUG=glasspane:spice output');
    }
    this.msgType = type;
    this.msgSize = size;
    const kept = Math.max(0, Math.min(size, this.keep(type)));
    this.skipLeft = size - kept;
    if (kept === 0) {
      if (this.skipLeft > 0) this.state = 'SKIP';
      return { kind: 'message', type, payload: EMPTY };
    }
    this.state = 'BODY';
    this.need = kept;
    return undefined;
  }

  /**
   * Buffers a copy of one piece (the caller may reuse its buffer: the socket reads into one):
   * a large one as a buffer of its own, a small one in the scratch buffer.
   */
  private push(data: Buffer): void {
    this.buffered += data.length;
    if (data.length >= SMALL_PIECE) {
      this.chunks.push(Buffer.from(data));
      this.lastInScratch = false;
      return;
    }
    if (!this.scratch || this.scratchUsed + data.length > this.scratch.length) {
      // The old scratch stays alive as long as views of it are buffered or handed out; it is
      // never written again, so those views keep their bytes.
      this.scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
      this.scratchUsed = 0;
      this.lastInScratch = false;
    }
    data.copy(this.scratch, this.scratchUsed);
    const end = this.scratchUsed + data.length;
    const last = this.chunks.length - 1;
    if (this.lastInScratch && last >= 0) {
      const prev = this.chunks[last]!;
      const start = prev.byteOffset - this.scratch.byteOffset;
      this.chunks[last] = this.scratch.subarray(start, end);
    } else {
      this.chunks.push(this.scratch.subarray(this.scratchUsed, end));
      this.lastInScratch = true;
    }
    this.scratchUsed = end;
  }

  /** Copies the first n buffered bytes without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.off >= n) return first.subarray(this.off, this.off + n);
    return Buffer.concat(this.chunks, this.buffered + this.off).subarray(this.off, this.off + n);
  }

  /** Drops n bytes that lie in chunks[0] (n <= what is left of it). */
  private skip(n: number): void {
    this.off += n;
    this.buffered -= n;
    if (this.off === this.chunks[0]!.length) {
      this.chunks.shift();
      this.off = 0;
    }
  }

  /** Drops the first n buffered bytes (n <= buffered). */
  private drop(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      const k = Math.min(first.length - this.off, left);
      this.skip(k);
      left -= k;
    }
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0]!;
    if (first.length - this.off >= n) {
      const view = first.subarray(this.off, this.off + n);
      const out = first === this.foreign ? Buffer.from(view) : view;
      this.skip(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    let i = 0;
    let from = this.off;
    while (got < n) {
      const c = this.chunks[i]!;
      const k = Math.min(c.length - from, n - got);
      c.copy(out, got, from, from + k);
      got += k;
      if (from + k === c.length) {
        i++;
        from = 0;
      } else from += k;
    }
    // One splice, not a shift per chunk: a body fed one byte at a time is many chunks.
    this.chunks.splice(0, i);
    this.off = from;
    this.buffered -= n;
    return out;
  }
}

const EMPTY = Buffer.alloc(0);
