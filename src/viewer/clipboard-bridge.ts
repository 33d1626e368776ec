/**
 * Clipboard text shared between the host desktop and the guest, as Looking Glass does through
 * SPICE: copy on either side, paste on the other.
 *
 * The two sides are small interfaces so this module holds only the policy:
 * - HostClipboard: the desktop clipboard (SDL's in the viewer; the viewer tells us when it may
 *   have changed: SDL's clipboard 'update' event, and window focus, since on X11 SDL hears of
 *   another application's copy only when it owned the clipboard before).
 * - GuestClipboard: the SPICE guest agent (SpiceClient's clipboard* methods).
 *
 * Policy (by demand: text moves only when someone pastes, except guest → host, which is fetched
 * as soon as the guest copies because SDL has no by-demand API):
 * - Host text changes (and is not the text we just took from the guest) → tell the guest we have
 *   text (GRAB); the agent asks for it when the guest pastes (handlers.hostText).
 * - Host clipboard empties → RELEASE.
 * - The guest copies text (GRAB with UTF8_TEXT) → request it and put it on the host clipboard.
 * - The agent (re)appears → offer the host's current text, so a paste right after boot works.
 * Failures (agent gone mid-request, timeout) are reported through onProblem and never thrown:
 * the clipboard is a convenience and must not disturb input.
 *
 * A server or guest that repeats itself costs nothing more than one that does not (reading the
 * X11 clipboard blocks the window's thread while the owner answers):
 * - one guest fetch at a time: GRABs during a fetch are answered by one more fetch after it;
 * - reads the guest side asks for (a paste, an agent that (re)appears) reuse the last read for
 *   GUEST_READ_MS; reads the host side asks for (SDL's clipboard event, focus) are always fresh;
 * - the same problem is said once until the clipboard works again.
 */
import { debuglog } from 'node:util';
import { ClipboardType, type ClipboardHandlers } from '../spice/agent.js';

const log = debuglog('glasspane:clipboard');

/** How long a host clipboard read made for the guest side is reused (ms). */
export const GUEST_READ_MS = 500;

/**
 * The desktop clipboard as the bridge needs it: read the text ('' when empty or not text; a throw
 * counts as empty) and set it.
 */
export interface HostClipboard {
  readonly text: string;
  setText(text: string): void;
}

/** The guest side: SpiceClient's clipboard methods (see SpiceClient). */
export interface GuestClipboard {
  clipboardGrabText(): void;
  clipboardRelease(): void;
  clipboardRequestText(timeoutMs?: number): Promise<string>;
}

/**
 * The clipboard policy above, for one viewer. Main thread only (SDL's clipboard and the SPICE
 * socket both live there). Nothing it does throws: failures go to `onProblem`. Guest text is taken
 * as the agent sends it (any length up to the agent's 16 MiB limit) and put on the host clipboard.
 */
export class ClipboardBridge {
  private host: HostClipboard | null = null;
  private guest: GuestClipboard | null = null;
  private agentUp = false;
  /** The host text the guest was last told about (or took from the guest): no repeat GRABs. */
  private known = '';
  /** A guest fetch is running; `fetchAgain` asks for one more after it. */
  private fetching = false;
  private fetchAgain = false;
  /** The last host read and when it was made (performance.now()), for reads the guest side asks for. */
  private lastRead = { text: '', at: -Infinity };
  /** When guest text was last put on the host clipboard (performance.now()). */
  private setAt = -Infinity;
  /** The last problem said (said again only after the clipboard worked). */
  private lastProblem = '';

  /**
   * `directions` limits the sharing to one way (Looking Glass's spice:clipboardToVM and
   * clipboardToLocal; both default to true).
   */
  constructor(
    private readonly onProblem: (message: string) => void = () => {},
    private readonly directions: { toGuest?: boolean; toHost?: boolean } = {},
  ) {}

  /** Handlers for SpiceClient's `clipboard` option. */
  readonly handlers: ClipboardHandlers = {
    hostText: () => {
      if (this.directions.toGuest === false) return undefined;
      const t = this.readHost(false);
      return t ? t : undefined;
    },
    guestGrab: (types) => {
      if (this.directions.toHost !== false && types.includes(ClipboardType.UTF8_TEXT)) void this.fetchGuestText();
    },
    agentState: (connected) => {
      this.agentUp = connected;
      // A fresh agent holds nothing of ours: '' means "nothing offered", so an empty host
      // clipboard sends nothing and any text is offered.
      this.known = '';
      if (connected) this.offer(this.readHost(false));
    },
    problem: (err) => this.problem(`clipboard: ${err.message}`),
  };

  /** Connects the guest side (the SpiceClient); until then nothing is offered or fetched. */
  attachGuest(guest: GuestClipboard): void {
    this.guest = guest;
  }

  /** Connects the desktop clipboard (lent by the viewer) and offers its current text to the guest. */
  attachHost(host: HostClipboard): void {
    this.host = host;
    this.hostMaybeChanged();
  }

  /** The host clipboard is gone (window closed): guest text is no longer taken. */
  detachHost(): void {
    this.host = null;
  }

  /** Call when the host clipboard may have changed; offers new text to the guest. */
  hostMaybeChanged(): void {
    if (!this.agentUp || !this.guest || !this.host || this.directions.toGuest === false) return;
    // Right after we put guest text there, the change is our own: reading it back (up to 16 MiB
    // through X11) would only find that text.
    this.offer(this.readHost(performance.now() - this.setAt >= GUEST_READ_MS));
  }

  private offer(text: string): void {
    if (!this.agentUp || !this.guest || !this.host || this.directions.toGuest === false) return;
    if (text === this.known) return;
    this.known = text;
    if (text) {
      log('host text (%d chars) offered to the guest', text.length);
      this.guest.clipboardGrabText();
    } else {
      this.guest.clipboardRelease();
    }
  }

  /** The host clipboard's text; `fresh` false reuses a read younger than GUEST_READ_MS (see the module comment). */
  private readHost(fresh: boolean): string {
    if (!this.host) return '';
    const now = performance.now();
    if (!fresh && now - this.lastRead.at < GUEST_READ_MS) return this.lastRead.text;
    let text = '';
    try {
      text = this.host.text ?? '';
    } catch (err) {
      log('host clipboard unreadable: %s', (err as Error).message);
    }
    this.lastRead = { text, at: now };
    return text;
  }

  private async fetchGuestText(): Promise<void> {
    if (!this.guest) return;
    if (this.fetching) {
      this.fetchAgain = true;
      return;
    }
    this.fetching = true;
    try {
      const text = await this.guest.clipboardRequestText();
      log('guest text (%d chars) put on the host clipboard', text.length);
      // Remember it first: the host clipboard's update that follows must not bounce it back.
      this.known = text;
      this.host?.setText(text);
      this.setAt = performance.now();
      this.lastRead = { text, at: this.setAt };
      this.lastProblem = '';
    } catch (err) {
      this.problem(`clipboard: ${(err as Error).message}`);
    } finally {
      this.fetching = false;
    }
    if (this.fetchAgain) {
      this.fetchAgain = false;
      await this.fetchGuestText();
    }
  }

  private problem(message: string): void {
    if (message === this.lastProblem) return log('%s (said before)', message);
    this.lastProblem = message;
    this.onProblem(message);
  }
}
