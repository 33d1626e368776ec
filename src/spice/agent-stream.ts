/**
 * The receive side of the guest agent's stream, as AGENT_DATA messages carry it: VDAgentMessage
 * headers `{u32 protocol = 1, u32 type, u64 opaque, u32 size}` and their data, reassembled from
 * pieces of any split. Facts: spice-protocol `spice/vd_agent.h`.
 *
 * Linear by construction: the pieces of a message are collected as views and concatenated once,
 * when its last byte arrives. The untrusted size is bounded before anything is kept: a message
 * over the limit its owner gives for its type is skipped as it streams by, never buffered. A
 * header with another protocol number leaves no way to find the next message, so the rest of that
 * piece is dropped and the next AGENT_DATA is read as the start of a message.
 */

/** VDAgentMessage.protocol: the one version there is. */
export const VD_AGENT_PROTOCOL = 1;
/** Bytes of a VDAgentMessage header: u32 protocol, u32 type, u64 opaque, u32 size. */
export const VD_AGENT_HEADER_SIZE = 20;

/** The message being received: its type and size, the bytes seen, the pieces kept (undefined: skipped). */
interface Incoming {
  type: number;
  size: number;
  got: number;
  parts?: Buffer[];
}

/**
 * Reassembles the agent stream (see the module comment). `limitFor(type)` is the most bytes a
 * message of that type may have to be kept (0: skip it); `onMessage` gets each kept message, its
 * data a buffer of its own (or a view of a piece that is never reused). Not thread-safe; pure.
 */
export class AgentStreamReader {
  private head: Buffer[] = [];
  private headBytes = 0;
  private incoming: Incoming | null = null;

  constructor(
    private readonly limitFor: (type: number) => number,
    private readonly onMessage: (type: number, data: Buffer) => void,
    /** Told of dropped and skipped messages (for a debug log); left out, nothing is even formatted. */
    private readonly note?: (what: string) => void,
  ) {}

  /** Takes one AGENT_DATA payload (kept by reference until its message is complete). */
  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const cur = this.incoming;
      if (!cur) {
        const k = Math.min(VD_AGENT_HEADER_SIZE - this.headBytes, chunk.length - off);
        this.head.push(chunk.subarray(off, off + k));
        this.headBytes += k;
        off += k;
        if (this.headBytes < VD_AGENT_HEADER_SIZE) return;
        const h = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head, VD_AGENT_HEADER_SIZE);
        this.head = [];
        this.headBytes = 0;
        const protocol = h.readUInt32LE(0);
        const type = h.readUInt32LE(4);
        const size = h.readUInt32LE(16);
        if (protocol !== VD_AGENT_PROTOCOL) {
          this.note?.(`dropping a message with protocol ${protocol} (type ${type}, size ${size})`);
          return;
        }
        const limit = this.limitFor(type);
        if (size > limit) this.note?.(`skipping message type ${type} of ${size} bytes (limit ${limit})`);
        this.incoming = { type, size, got: 0, parts: size <= limit ? [] : undefined };
      } else {
        const k = Math.min(cur.size - cur.got, chunk.length - off);
        cur.parts?.push(chunk.subarray(off, off + k));
        cur.got += k;
        off += k;
      }
      const done = this.incoming!;
      if (done.got === done.size) {
        this.incoming = null;
        if (done.parts) this.onMessage(done.type, done.parts.length === 1 ? done.parts[0]! : Buffer.concat(done.parts, done.size));
      }
    }
  }

  /** Forgets a message half received (the agent went away). */
  reset(): void {
    this.head = [];
    this.headBytes = 0;
    this.incoming = null;
  }
}
