/**
 * The headless consumer's verifier for guest-stub's test scenes (`glasspane view --headless
 * --verify`, `glasspane demo`, the tests): adapts the scene check in src/scenes to
 * the relay's FrameVerifier. It lives in the relay layer because it speaks the relay's LentFrame;
 * the scene itself is defined once, below, for the stub that draws it and the consumer that checks it.
 */
import type { FrameVerifier } from './headless.js';
import { SceneVerifier } from '../scenes/verify.js';

/** Checks every frame against guest-stub's scene; the stub carries its post time in the pixels. */
export function stubSceneVerifier(): FrameVerifier {
  const v = new SceneVerifier();
  return (f) => {
    const i = f.info;
    if (i.format.name !== 'BGRA' && i.format.name !== 'RGBA') return { error: `format ${i.format.name} is not a stub scene format` };
    const r = v.verify(f.data, i.frameWidth, i.frameHeight, i.dataHeight, i.pitch, i.type, i.frameSerial);
    return { error: r.ok ? null : `frame ${i.frameSerial}: ${r.error}`, postedNs: r.postedNs };
  };
}
