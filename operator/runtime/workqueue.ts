import { systemClock, type Clock } from "../../common/clock.js";

/**
 * A work queue of keys in controller-runtime's shape: a key waiting is queued once however often
 * it is added; a key being processed is never handed out twice at once (re-adds while it runs
 * are kept and handed out after `done`); failures back off exponentially per key.
 */

/**
 * The longest an add-after waits: 1 h. Reconcilers are level-based, so a key handed out earlier
 * than asked is simply re-checked and asks again for what is left; the cap keeps every timer far
 * below what a Node timer holds (2^31-1 ms), and bounds how long a key is forgotten should a
 * computed delay be wrong (a TTL of months, NaN). An hourly re-check per waiting key is cheap.
 */
export const MAX_ADD_AFTER_MS = 60 * 60 * 1000;

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Cap on add-after delays (default MAX_ADD_AFTER_MS). */
  maxAddAfterMs?: number;
  clock?: Clock;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly clock: Clock;

  constructor(private readonly opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // handed out again by done()
    this.push(key);
  }

  /** Adds the key after `ms`, capped at maxAddAfterMs (NaN too); an earlier pending add-after for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const max = this.opts.maxAddAfterMs ?? MAX_ADD_AFTER_MS;
    ms = ms < max ? ms : max; // NaN compares false: it waits the cap rather than spinning
    const at = this.clock.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.clock.clearTimeout(pending.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, handle });
  }

  /** Adds the key after its next backoff delay: base × 2^failures, capped. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min((this.opts.baseDelayMs ?? 100) * 2 ** n, this.opts.maxDelayMs ?? 60_000);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get length(): number {
    return this.queue.length;
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else this.queue.push(key);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
