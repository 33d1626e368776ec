/**
 * Fixed-size and NUL-terminated strings read from an untrusted region: bounded, printable.
 * readCString: the UTF-8 text of `bytes` from `start` up to the first NUL, at most `maxLen` bytes
 * and never past `bytes.length`; control characters, DEL and invalid UTF-8 (U+FFFD) removed.
 * Returns a copy.
 */
export function readCString(bytes: Uint8Array, start: number, maxLen: number): string {
  const end = Math.min(bytes.length, start + maxLen);
  let i = start;
  while (i < end && bytes[i] !== 0) i++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start)
    .toString('utf8')
    .replace(/[\u0000-\u001f\u007f\ufffd]/g, '');
}

/**
 * Writes `value` as UTF-8 into the `maxLen`-byte field at `start`, cut to maxLen − 1 bytes (a cut
 * may split a multi-byte character) and NUL-filled to the end of the field.
 */
export function writeCString(bytes: Uint8Array, start: number, maxLen: number, value: string): void {
  const enc = Buffer.from(value, 'utf8').subarray(0, maxLen - 1);
  bytes.fill(0, start, start + maxLen);
  bytes.set(enc, start);
}
