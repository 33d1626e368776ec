/**
 * The `subs` word of a queue: high 32 bits = subscribed ("ON"), low 32 bits = timed out ("BAD").
 * subsOn: the ON mask (bit i: slot i subscribed).
 */
export const subsOn = (subs: bigint): number => Number(subs >> 32n) >>> 0;
/** The BAD mask (bit i: subscriber slot i timed out) of a `subs` word. */
export const subsBad = (subs: bigint): number => Number(subs & 0xffffffffn) >>> 0;
/** `subs` with the slots in `bad` also marked BAD. */
export const subsWithBad = (subs: bigint, bad: number): bigint => subs | BigInt(bad >>> 0);
/** `subs` with the slots in `bits` neither ON nor BAD (slot freed). */
export const subsClear = (subs: bigint, bits: number): bigint => subs & ~(BigInt(bits >>> 0) | (BigInt(bits >>> 0) << 32n));
/** `subs` with the slots in `bits` marked ON. */
export const subsSet = (subs: bigint, bits: number): bigint => subs | (BigInt(bits >>> 0) << 32n);
