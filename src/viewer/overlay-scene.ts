/**
 * What the viewer shows over the guest frame — the guest cursor, the OSD and the help panel — as
 * the presenter's overlays. The cursor is in frame pixels (it is part of the guest's picture and
 * scales and turns with it); the OSD and the help are in window pixels, drawn 1:1 at the
 * window's resolution, so their text keeps its size whatever the guest's resolution (a 4K guest
 * in a 1280x720 window does not shrink it to 4 px; a 640x360 guest fullscreen does not blow it
 * up). Each image is uploaded only when it changed (the OSD panel is redrawn only when its text
 * changes; a colour cursor only with a new shape), so a cursor move or a present without a new
 * frame costs no pixel work.
 */
import { CursorOverlay, type CursorImage, type FramePixels } from './cursor-overlay.js';
import type { OverlayImage, OverlayPlacement } from './native-presenter.js';
import { DEFAULT_UI_FONT, Osd, helpPanel, type OsdFigures, type Panel, type UiFont } from './osd.js';

/** Where overlays go (the presenter, or a window backend's surface). */
export interface OverlayTarget {
  setOverlay(slot: number, placement: OverlayPlacement): void;
}

/** Overlay slots, bottom to top. */
const SLOT = { cursor: 0, osd: 1, help: 2 } as const;
/** Where the OSD goes, window pixels from the top-left corner. */
const OSD_AT = 8;

/**
 * The viewer's overlays (cursor in slot 0, OSD in 1, help in 2) for one presenter. Main thread
 * only; the images it hands to the target stay the scene's and must not be changed by it.
 */
export class OverlayScene {
  /** The guest cursor: the shape's top-left corner in frame pixels (KVMFR's cursor position). */
  readonly cursor = { visible: false, x: 0, y: 0 };
  private readonly cursorOverlay = new CursorOverlay();
  private readonly osd: Osd;
  private help: { panel: Panel; maxWidth: number } | null = null;
  /** The image each slot has in the presenter. */
  private readonly uploaded: Array<OverlayImage | Panel | null> = [null, null, null];

  constructor(
    private readonly escapeName: string,
    private readonly font: UiFont = DEFAULT_UI_FONT,
  ) {
    this.osd = new Osd(font);
  }

  /** A new guest cursor shape (null: none); its pixels are used without a copy (see CursorOverlay). */
  setCursorShape(shape: CursorImage | null): void {
    this.cursorOverlay.setShape(shape);
  }

  /** Places every overlay for a present of `frame` in a window of `win` pixels; `osd` null hides the OSD. */
  place(p: OverlayTarget, frame: FramePixels, osd: OsdFigures | null, help: boolean, win: { width: number; height: number }): void {
    const show = (slot: number, image: OverlayImage | Panel | null, x: number, y: number, visible: boolean, space: 'frame' | 'window') => {
      const changed = image !== null && image !== this.uploaded[slot];
      if (changed) this.uploaded[slot] = image;
      p.setOverlay(slot, { x, y, space, visible: visible && image !== null, image: changed ? { ...image, order: 'bgra' } : undefined });
    };
    const c = this.cursor;
    const co = this.cursorOverlay;
    if (c.visible && co.dependsOnFrame) {
      // Inverting/XOR texels follow the frame under them: recomputed for every present.
      co.update(frame, c.x, c.y);
      this.uploaded[SLOT.cursor] = null;
    }
    const at = co.origin(c.x, c.y);
    show(SLOT.cursor, co.current, at.x, at.y, c.visible, 'frame');
    show(SLOT.osd, osd ? this.osd.render(osd) : null, OSD_AT, OSD_AT, osd !== null, 'window');
    // The help is laid out for the window's width (redrawn when that changes while it shows).
    const maxWidth = Math.max(1, win.width - 2 * OSD_AT);
    if (help && (!this.help || this.help.maxWidth !== maxWidth)) this.help = { panel: helpPanel(this.escapeName, this.font, maxWidth), maxWidth };
    const h = this.help?.panel ?? null;
    const centre = (outer: number, inner: number) => Math.max(0, Math.floor((outer - inner) / 2));
    show(SLOT.help, h, h ? centre(win.width, h.width) : 0, h ? centre(win.height, h.height) : 0, help, 'window');
  }
}
