/**
 * SDL events without a 1 ms timer. @kmamal/sdl polls SDL's event queue with setInterval(poll, 0)
 * while any of its objects has a listener — a thousand wake-ups a second, about 4 % of a core on
 * a VM with the window doing nothing. On X11 every event SDL reads arrives on the display
 * connection, so this pump polls when that connection is readable (a libuv poll handle on its fd,
 * native/sdl_events.h) instead, plus:
 *  - right after each draw: presenting ends with an X round trip (XSync), which can read events
 *    into Xlib's own queue without the connection staying readable;
 *  - every SAFETY_MS: events SDL makes up itself or that other X calls read into Xlib's queue
 *    (rare; they wait at most this long).
 * With another video driver (Wayland) or an SDL without SDL_GetWindowWMInfo, attach() returns
 * null and the binding's own polling stays.
 *
 * It works through the binding's internal event switch (Globals.events in its globals.js), which
 * the binding calls when its first listener comes and its last goes; attach() takes that switch
 * over and close() gives it back. Main thread only.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { debuglog } from 'node:util';
import { native } from '../native.js';

const log = debuglog('glasspane:viewer');

/** The slowest the pump looks when nothing made the connection readable (ms). */
const SAFETY_MS = 200;

/** The binding's event switch (@kmamal/sdl src/javascript/events/index.js). */
interface BindingEvents {
  poll: () => void;
  switchToPollingFast: () => void;
  switchToPollingSlow: () => void;
  stopPolling: () => void;
}

/** The binding's internal switch, or null when this version of the binding has none. */
function bindingEvents(): BindingEvents | null {
  try {
    const require = createRequire(import.meta.url);
    // The package's exports hide its internals; a path names the very module it loaded.
    const globals = require(join(dirname(require.resolve('@kmamal/sdl')), 'globals.js')) as { events?: Partial<BindingEvents> };
    const e = globals.events;
    return e && typeof e.poll === 'function' && typeof e.switchToPollingFast === 'function' && typeof e.switchToPollingSlow === 'function' && typeof e.stopPolling === 'function' ? (e as BindingEvents) : null;
  } catch {
    return null;
  }
}

/** Drives the binding's event polling from the display connection (see the module comment). */
export class SdlEventPump {
  private watch: { close(): void } | null = null;
  private safety: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly events: BindingEvents,
    private readonly fd: number,
    private readonly original: Pick<BindingEvents, 'switchToPollingFast' | 'switchToPollingSlow'>,
  ) {}

  /** Takes over the binding's polling for the window `windowId`'s display; null where it cannot (the binding keeps polling). */
  static attach(windowId: number): SdlEventPump | null {
    const events = bindingEvents();
    const fd = events ? native.sdlEventFd(windowId) : -1;
    if (!events || fd < 0) {
      log('SDL events: polled by the binding every millisecond (%s)', events ? 'not an X11 window' : 'no event switch in this @kmamal/sdl');
      return null;
    }
    const pump = new SdlEventPump(events, fd, { switchToPollingFast: events.switchToPollingFast, switchToPollingSlow: events.switchToPollingSlow });
    events.switchToPollingFast = () => pump.fast();
    events.switchToPollingSlow = () => pump.slow();
    pump.fast(); // the window has its listeners by now
    log('SDL events: read when the X11 connection (fd %d) is readable', fd);
    return pump;
  }

  /** Call after drawing (it ended with an X round trip): reads what that round trip queued. */
  afterDraw(): void {
    if (this.watch) this.events.poll();
  }

  /** Gives the binding its switch back, in the state it would be in now. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const active = this.watch !== null;
    this.stopWatching();
    this.events.switchToPollingFast = this.original.switchToPollingFast;
    this.events.switchToPollingSlow = this.original.switchToPollingSlow;
    if (active) this.events.switchToPollingFast();
    else this.events.switchToPollingSlow();
  }

  /** Listeners present: poll when the connection is readable (and after draws, and every SAFETY_MS). */
  private fast(): void {
    this.events.stopPolling();
    if (this.watch) return;
    this.watch = new native.FdWatch(this.fd, () => this.events.poll());
    this.safety = setInterval(() => this.events.poll(), SAFETY_MS);
    this.events.poll(); // whatever is queued already
  }

  /** No listeners: the binding's own slow polling (once a second, not keeping the process alive). */
  private slow(): void {
    this.stopWatching();
    this.original.switchToPollingSlow();
  }

  private stopWatching(): void {
    this.watch?.close();
    this.watch = null;
    if (this.safety) clearInterval(this.safety);
    this.safety = null;
  }
}
