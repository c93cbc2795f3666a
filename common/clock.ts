/** Time, injected so tests drive timers and backoff without waiting. */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`, however long (beyond what one Node timer holds); the handle is for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The longest delay one Node timer holds: 2^31-1 ms, about 24.8 days. A longer one fires after
 * 1 ms instead (with a TimeoutOverflowWarning), so a caller asking for 30 days would spin.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer longer than MAX_TIMER_MS, armed in steps of at most MAX_TIMER_MS; `current` is the step pending. */
class ChainedTimer {
  current: NodeJS.Timeout | undefined;

  constructor(fn: () => void, ms: number) {
    const arm = (left: number): void => {
      const step = Math.min(left, MAX_TIMER_MS);
      this.current = setTimeout(() => {
        if (left > step) arm(left - step);
        else {
          this.current = undefined;
          fn();
        }
      }, step);
    };
    arm(ms);
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // NaN and negative delays keep Node's meaning (1 ms); only overlong ones are chained.
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new ChainedTimer(fn, ms) : setTimeout(fn, ms)),
  clearTimeout: (handle) => clearTimeout(handle instanceof ChainedTimer ? handle.current : (handle as NodeJS.Timeout)),
};
