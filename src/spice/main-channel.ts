/**
 * The SPICE main channel: the session (INIT's session_id links every other channel), the channel
 * list, the mouse mode, and the VM's NAME and UUID. We never send MAIN_CLIENT_INFO (spice-server
 * 0.15 closes the channel on it) nor any migration message.
 *
 * Contract: `MainChannel.open()` resolves after INIT and CHANNELS_LIST; later MOUSE_MODE, NAME,
 * UUID and the close are reported through the `events` callbacks.
 */
import { debuglog } from 'node:util';
import type { SpiceAddress } from './address.js';
import { VdAgent, type ClipboardHandlers } from './agent.js';
import { SpiceChannel } from './channel.js';
import { SpiceError } from './errors.js';
import { ChannelType, MainCap, MainClientMsg, MainServerMsg, MouseMode } from './protocol.js';

const debug = debuglog('glasspane:spice');
/** Checked before each debug line on a per-message path: a disabled debuglog still costs its call. */
const debugOn = debug.enabled;

/**
 * What the main channel reports after open(); called on the main thread from socket events. The
 * name and uuid are the server's (the name cut at its first NUL).
 */
export interface MainEvents {
  /** Mouse mode changed (or was first learned): current and supported bit set (1 server, 2 client). */
  mouseMode?(current: number, supported: number): void;
  name?(name: string): void;
  uuid?(uuid: string): void;
  close?(err?: SpiceError): void;
}

/**
 * How to link the main channel: address, password, link timeout (ms, default 10 s), the wanted
 * mouse mode, the event callbacks and the optional clipboard handlers.
 */
export interface MainOptions {
  address: SpiceAddress;
  password?: string;
  timeoutMs?: number;
  /** 'server' (default, relative motion, like Looking Glass) or 'client' (absolute, when available). */
  mouseMode?: 'server' | 'client';
  events?: MainEvents;
  /** Clipboard through the guest agent; without it the agent is never started. */
  clipboard?: ClipboardHandlers;
  /** Aborting it ends the link, or the wait for INIT and CHANNELS_LIST, at once (open() rejects). */
  signal?: AbortSignal;
  /**
   * Told the channel the moment it is set up, before open() resolves: messages that came in the
   * same read as CHANNELS_LIST (an agent's GRAB) are handled before the promise's continuation runs.
   */
  opened?: (main: MainChannel) => void;
}

/** Most channels a CHANNELS_LIST may name (QEMU lists under 10). */
export const MAX_CHANNELS = 256;
/** Most bytes of the VM name kept (the OSD and the title show it). */
export const MAX_NAME_BYTES = 256;

/** Bytes of each main-channel message the handler reads (the rest of a longer one is skipped unbuffered). */
function mainKeep(type: number): number {
  switch (type) {
    case MainServerMsg.INIT:
      return 32;
    case MainServerMsg.CHANNELS_LIST:
      return 4 + 2 * MAX_CHANNELS;
    case MainServerMsg.MOUSE_MODE:
    case MainServerMsg.AGENT_TOKEN:
    case MainServerMsg.AGENT_CONNECTED_TOKENS:
      return 4;
    case MainServerMsg.NAME:
      return 4 + MAX_NAME_BYTES;
    case MainServerMsg.UUID:
      return 16;
    case MainServerMsg.AGENT_DATA:
      return Infinity; // the agent stream bounds what it keeps itself
    default:
      return 0; // AGENT_CONNECTED, AGENT_DISCONNECTED, MULTI_MEDIA_TIME and newer: nothing read
  }
}

/**
 * The main channel of one session (see the module comment). Made by open(); main thread only.
 * Server messages shorter than their layout end the channel with ERR_SPICE_PROTOCOL; the channel
 * list is bounded by its message's size.
 */
export class MainChannel {
  readonly sessionId: number;
  readonly channels: ReadonlyArray<{ type: number; id: number }>;
  supportedMouseModes: number;
  currentMouseMode: number;
  agentConnected: boolean;
  name?: string;
  uuid?: string;
  /** The guest agent (clipboard), when `clipboard` was given. */
  agent?: VdAgent;
  private readonly channel: SpiceChannel;

  private constructor(channel: SpiceChannel, init: Buffer, list: Array<{ type: number; id: number }>) {
    this.channel = channel;
    this.sessionId = init.readUInt32LE(0);
    this.supportedMouseModes = init.readUInt32LE(8);
    this.currentMouseMode = init.readUInt32LE(12);
    this.agentConnected = init.readUInt32LE(16) !== 0;
    this.channels = list;
  }

  /**
   * Links the main channel and waits for INIT and CHANNELS_LIST (within `timeoutMs`). Rejects with
   * the SpiceErrors of SpiceChannel.open(), ERR_SPICE_TIMEOUT when INIT or the list does not come,
   * ERR_SPICE_PROTOCOL for a malformed one, ERR_SPICE_CLOSED when the server closes first, and the
   * abort reason when `signal` aborts (the channel is then closed).
   */
  static async open(opts: MainOptions): Promise<MainChannel> {
    const channel = await SpiceChannel.open({
      address: opts.address,
      channelType: ChannelType.MAIN,
      connectionId: 0,
      channelCaps: [MainCap.NAME_AND_UUID, MainCap.AGENT_CONNECTED_TOKENS],
      password: opts.password,
      name: 'main',
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      keep: mainKeep,
    });
    const ev = opts.events ?? {};
    let main: MainChannel | undefined;
    let init: Buffer | undefined;
    let name: string | undefined;
    let uuid: string | undefined;
    const agent = opts.clipboard ? new VdAgent((t, p) => channel.send(t, p), opts.clipboard) : undefined;
    return new Promise<MainChannel>((resolve, reject) => {
      let settled = false;
      const giveUp = (err: SpiceError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        reject(err);
        channel.abort(err);
      };
      const onAbort = () => {
        const reason: unknown = opts.signal?.reason;
        giveUp(reason instanceof SpiceError ? reason : new SpiceError('ERR_SPICE_CLOSED', 'SPICE main channel set-up cancelled: the client was closed', 'nothing to do: the client was closed while it connected'));
      };
      const timer = setTimeout(
        () => giveUp(new SpiceError('ERR_SPICE_TIMEOUT', `SPICE main channel linked but sent no ${init ? 'CHANNELS_LIST' : 'INIT'} within ${opts.timeoutMs ?? 10_000} ms`, 'check that QEMU is not paused or hung')),
        opts.timeoutMs ?? 10_000,
      );
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener('abort', onAbort, { once: true });
      channel.attach(
        (type, payload) => {
          switch (type) {
            case MainServerMsg.INIT: {
              if (payload.length < 32) return channel.protocolError(type, payload, 32, 'INIT');
              if (init) return; // only the first counts: a second session id would mislink every channel
              init = Buffer.from(payload);
              debug('main: INIT session %d mouse modes supported %d current %d', init.readUInt32LE(0), init.readUInt32LE(8), init.readUInt32LE(12));
              channel.send(MainClientMsg.ATTACH_CHANNELS);
              if (agent && init.readUInt32LE(16) !== 0) agent.start(init.readUInt32LE(20));
              return;
            }
            case MainServerMsg.CHANNELS_LIST: {
              if (!init || main || settled) return;
              if (payload.length < 4) return channel.protocolError(type, payload, 4, 'CHANNELS_LIST (num_of_channels)');
              const n = payload.readUInt32LE(0);
              if (n > MAX_CHANNELS) return channel.abort(new SpiceError('ERR_SPICE_PROTOCOL', `SPICE main message CHANNELS_LIST names ${n} channels (field num_of_channels; at most ${MAX_CHANNELS} accepted)`, 'this is a server bug or not a SPICE server; report it with NODE_DEBUG=glasspane:spice output'));
              if (payload.length < 4 + 2 * n) return channel.protocolError(type, payload, 4 + 2 * n, `CHANNELS_LIST (num_of_channels = ${n})`);
              const list = Array.from({ length: n }, (_, i) => ({ type: payload[4 + 2 * i]!, id: payload[5 + 2 * i]! }));
              debug('main: channels %s', JSON.stringify(list));
              main = new MainChannel(channel, init, list);
              main.agent = agent;
              main.name = name;
              main.uuid = uuid;
              settled = true;
              clearTimeout(timer);
              opts.signal?.removeEventListener('abort', onAbort);
              opts.opened?.(main);
              resolve(main);
              ev.mouseMode?.(main.currentMouseMode, main.supportedMouseModes);
              if (opts.mouseMode === 'client') main.requestMouseMode('client');
              return;
            }
            case MainServerMsg.MOUSE_MODE: {
              if (payload.length < 4) return channel.protocolError(type, payload, 4, 'MOUSE_MODE');
              const supported = payload.readUInt16LE(0);
              const current = payload.readUInt16LE(2);
              if (debugOn) debug('main: mouse mode now %d (supported %d)', current, supported);
              if (main) {
                main.supportedMouseModes = supported;
                main.currentMouseMode = current;
                // A client-mode wish is granted as soon as the server can (tablet activated).
                if (opts.mouseMode === 'client' && current !== MouseMode.CLIENT && supported & MouseMode.CLIENT) main.requestMouseMode('client');
              }
              ev.mouseMode?.(current, supported);
              return;
            }
            case MainServerMsg.NAME: {
              if (payload.length < 4) return channel.protocolError(type, payload, 4, 'NAME (name_len)');
              const len = Math.min(payload.readUInt32LE(0), MAX_NAME_BYTES);
              // Cut at the first NUL and at MAX_NAME_BYTES, control characters shown as U+FFFD: it
              // goes into the window title and the OSD.
              name = payload.subarray(4, 4 + len).toString('utf8').replace(/\0.*$/s, '').replace(/[\p{Cc}]/gu, '\ufffd');
              if (name === main?.name) return;
              if (main) main.name = name;
              if (debugOn) debug('main: VM name %s', name);
              ev.name?.(name);
              return;
            }
            case MainServerMsg.UUID: {
              if (payload.length < 16) return channel.protocolError(type, payload, 16, 'UUID');
              uuid = formatUuid(payload.subarray(0, 16));
              if (uuid === main?.uuid) return;
              if (main) main.uuid = uuid;
              if (debugOn) debug('main: VM uuid %s', uuid);
              ev.uuid?.(uuid);
              return;
            }
            case MainServerMsg.AGENT_CONNECTED:
            case MainServerMsg.AGENT_CONNECTED_TOKENS:
              if (main) main.agentConnected = true;
              agent?.start(type === MainServerMsg.AGENT_CONNECTED_TOKENS && payload.length >= 4 ? payload.readUInt32LE(0) : 0);
              return;
            case MainServerMsg.AGENT_DISCONNECTED:
              if (main) main.agentConnected = false;
              agent?.stop();
              return;
            case MainServerMsg.AGENT_TOKEN:
              if (payload.length < 4) return channel.protocolError(type, payload, 4, 'AGENT_TOKEN (num_tokens)');
              agent?.addTokens(payload.readUInt32LE(0));
              return;
            case MainServerMsg.AGENT_DATA:
              agent?.receive(payload);
              return;
            default:
              // MULTI_MEDIA_TIME and anything newer: not needed for input.
              return;
          }
        },
        (err) => {
          agent?.stop('the SPICE connection closed');
          if (!main) giveUp(err ?? new SpiceError('ERR_SPICE_CLOSED', 'SPICE main channel closed before the session was set up', 'check QEMU\'s stderr'));
          else ev.close?.(err);
        },
      );
    });
  }

  /** True once the channel ended (by us or the server). */
  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /** Asks for a mouse mode; the server silently ignores a mode it cannot give (see mouseMode events). */
  requestMouseMode(mode: 'server' | 'client'): void {
    const want = mode === 'client' ? MouseMode.CLIENT : MouseMode.SERVER;
    if (!(this.supportedMouseModes & want) || this.currentMouseMode === want) return;
    const b = Buffer.alloc(2);
    b.writeUInt16LE(want, 0);
    this.channel.send(MainClientMsg.MOUSE_MODE_REQUEST, b);
  }

  /** True when the server's channel list (CHANNELS_LIST) has a channel of `type` (ChannelType). */
  hasChannel(type: number): boolean {
    return this.channels.some((c) => c.type === type);
  }

  /** Closes gracefully (see SpiceChannel.close()). */
  close(): Promise<void> {
    return this.channel.close();
  }
}

/** 16 bytes → canonical 8-4-4-4-12 lowercase text (byte order as sent, like QEMU's -uuid). */
export function formatUuid(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Compares the SPICE server's VM UUID with the producer's KVMFR VMINFO uuid; returns a warning
 * when both are known, non-zero and differ (the window and the keyboard would be on different VMs).
 */
export function uuidMismatchWarning(spiceUuid: string | undefined, producerUuid: Uint8Array | string | undefined): string | undefined {
  if (!spiceUuid || !producerUuid) return undefined;
  const producer = typeof producerUuid === 'string' ? producerUuid.toLowerCase() : formatUuid(producerUuid);
  const zero = /^[0-]+$/;
  if (zero.test(spiceUuid) || zero.test(producer) || spiceUuid === producer) return undefined;
  return `SPICE server VM uuid ${spiceUuid} differs from the frame producer's uuid ${producer}: keyboard and mouse go to another VM than the one shown; check --spice and --shm`;
}
