/**
 * A loop's wait that other code can end early: wait(ms) resolves after `ms` or at the next
 * wake(), whichever comes first. A wake() while nobody waits is kept, and the next wait()
 * returns at once, so a wake can never fall between a loop's check and its wait.
 */
export class Wakeup {
  private kick: (() => void) | null = null;
  private woken = false;

  /** Ends the current wait, or the next one at once. */
  wake(): void {
    const k = this.kick;
    this.kick = null;
    if (k) k();
    else this.woken = true;
  }

  /** Resolves at the next wake() (or one kept from before) or after `ms` (at least 1). One wait at a time. */
  wait(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.kick = null;
        resolve();
      }, Math.max(1, ms));
      this.kick = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
