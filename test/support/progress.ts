/**
 * Progress lines for the long tests (guests booting and working under TCG take minutes on a busy
 * machine): printed as they happen, with the seconds since the log began, so a slow run shows
 * where it is instead of minutes of silence.
 */
export function progressLog(name: string): (message: string) => void {
  const t0 = performance.now();
  return (message) => process.stderr.write(`  [${name} +${Math.round((performance.now() - t0) / 1000)} s] ${message}\n`);
}
