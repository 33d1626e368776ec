/**
 * The escape combinations the viewer does itself (the InputController does capture, input on/off,
 * mouse sensitivity and the keys it sends): fullscreen, quit, OSD, screenshot, and B7's video
 * on/off, rotate, microphone on/off and default, and the bindings glasspane has nothing behind
 * (said on the OSD, never silently nothing). Each one tells the user what happened.
 */
import type { AudioBridge } from './audio-bridge.js';
import type { EscapeBinding } from './escape-bindings.js';
import type { ViewerAction } from './input-controller.js';

/** What the actions act on: the viewer's parts, reached through small callbacks. */
export interface ActionTarget {
  toggleFullscreen(): void;
  quit(): void;
  toggleOsd(): void;
  screenshot(): Promise<string>;
  /** Turns the frame a quarter further; returns the rotation in degrees. */
  rotate(): number;
  audio?: AudioBridge;
  message(text: string): void;
  /** Something visible changed: present again. */
  changed(): void;
}

/** Runs the viewer's escape actions (see the module comment); keeps the video on/off state. Main thread only. */
export class ViewerActions {
  private videoOn = true;

  constructor(private readonly t: ActionTarget) {}

  /** False while escape+V has turned the video off. */
  get video(): boolean {
    return this.videoOn;
  }

  /** Does `a` (asked for by `binding`, when a combination). Never throws. */
  run(a: ViewerAction, binding?: EscapeBinding): void {
    const t = this.t;
    switch (a) {
      case 'fullscreen':
        return t.toggleFullscreen();
      case 'quit':
        return t.quit();
      case 'osd':
        t.toggleOsd();
        return t.changed();
      case 'screenshot':
        t.screenshot().then(
          (file) => t.message(`screenshot saved: ${file}`),
          (err: Error) => t.message(`screenshot failed: ${err.message}`),
        );
        return;
      case 'video':
        this.videoOn = !this.videoOn;
        t.message(`video ${this.videoOn ? 'on' : 'off'}`);
        return t.changed();
      case 'rotate':
        t.message(`rotation ${t.rotate()}°`);
        return t.changed();
      case 'mic-toggle':
      case 'mic-default':
        if (!t.audio) return t.message('the microphone needs SPICE audio: start the viewer with --spice (and audio on)');
        return t.message(a === 'mic-toggle' ? t.audio.toggleMicrophone() : t.audio.cycleMicDefault());
      case 'unavailable':
        return t.message(binding?.unavailable ?? 'not available');
    }
  }
}
