/** The `subs` word of a queue: high 32 bits = subscribed ("ON"), low 32 bits = timed out ("BAD"). */
export const subsOn = (subs: bigint): number => Number(subs >> 32n) >>> 0;
export const subsBad = (subs: bigint): number => Number(subs & 0xffffffffn) >>> 0;
export const subsWithBad = (subs: bigint, bad: number): bigint => subs | BigInt(bad >>> 0);
export const subsClear = (subs: bigint, bits: number): bigint => subs & ~(BigInt(bits >>> 0) | (BigInt(bits >>> 0) << 32n));
export const subsSet = (subs: bigint, bits: number): bigint => subs | (BigInt(bits >>> 0) << 32n);
