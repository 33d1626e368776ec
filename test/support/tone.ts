/**
 * Tone analysis for the audio tests: the frequency of a sine in raw interleaved S16LE audio as
 * rate / the median period between upward zero crossings of channel 0 (sub-sample interpolated,
 * with hysteresis so noise near zero does not count). The median ignores the few cycles broken by
 * silence, a restart or a jitter-buffer splice; the RMS says whether a tone is there at all.
 */
export interface ToneReport {
  hz: number;
  rms: number;
  /** Cycles measured. */
  cycles: number;
}

export function analyseTone(raw: Buffer, channels: number, rate: number, fromFrame = 0): ToneReport {
  const frameBytes = 2 * channels;
  const frames = Math.floor(raw.length / frameBytes);
  const periods: number[] = [];
  let armed = false;
  let last = -1;
  let sum = 0;
  let n = 0;
  let prev = 0;
  for (let f = fromFrame; f < frames; f++) {
    const v = raw.readInt16LE(f * frameBytes);
    sum += v * v;
    n++;
    if (v < -1000) armed = true;
    if (f > fromFrame && armed && prev < 0 && v >= 0) {
      const at = f - 1 + -prev / (v - prev);
      if (last >= 0) periods.push(at - last);
      last = at;
      armed = false;
    }
    prev = v;
  }
  periods.sort((a, b) => a - b);
  const median = periods.length ? periods[periods.length >> 1]! : 0;
  return { hz: median ? rate / median : 0, rms: n ? Math.sqrt(sum / n) : 0, cycles: periods.length };
}

/** A sine at `hz`, `seconds` long, interleaved S16LE at half scale. */
export function sineS16(hz: number, seconds: number, rate = 48000, channels = 2): Buffer {
  const frames = Math.round(seconds * rate);
  const b = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(16383 * Math.sin((2 * Math.PI * hz * i) / rate));
    for (let c = 0; c < channels; c++) b.writeInt16LE(v, (i * channels + c) * 2);
  }
  return b;
}
