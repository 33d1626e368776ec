/** LGMP timestamps: the producer's monotonic clock in milliseconds (CLOCK_MONOTONIC). */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

/** A clock that tests can replace. */
export type Clock = () => number;
