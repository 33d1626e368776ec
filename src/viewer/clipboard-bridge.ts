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
 */
import { debuglog } from 'node:util';
import { ClipboardType, type ClipboardHandlers } from '../spice/agent.js';

const log = debuglog('glasspane:clipboard');

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
      const t = this.readHost();
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
      if (connected) this.hostMaybeChanged();
    },
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
    const text = this.readHost();
    if (text === this.known) return;
    this.known = text;
    if (text) {
      log('host text (%d chars) offered to the guest', text.length);
      this.guest.clipboardGrabText();
    } else {
      this.guest.clipboardRelease();
    }
  }

  private readHost(): string {
    try {
      return this.host?.text ?? '';
    } catch (err) {
      log('host clipboard unreadable: %s', (err as Error).message);
      return '';
    }
  }

  private async fetchGuestText(): Promise<void> {
    if (!this.guest) return;
    try {
      const text = await this.guest.clipboardRequestText();
      log('guest text (%d chars) put on the host clipboard', text.length);
      // Remember it first: the host clipboard's update that follows must not bounce it back.
      this.known = text;
      this.host?.setText(text);
    } catch (err) {
      this.onProblem(`clipboard: ${(err as Error).message}`);
    }
  }
}
