/**
 * Per batch, passes on at most one worker notification per interval: the first at once (a
 * batch's first item start shows as Running without delay), later ones at the end of the
 * interval, together. Items of a batch notify on every start and end; the batch's status needs
 * a reconcile only as often as it may be written (BATCH_STATUS_INTERVAL_MS).
 */
export class BatchNotifyThrottle {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs: number, private readonly fire: (key: string) => void, private readonly now: () => number = Date.now) {}

  notify(key: string): void {
    if (this.timers.has(key)) return; // a pass is already due: it covers this one
    const wait = (this.last.get(key) ?? Number.NEGATIVE_INFINITY) + this.intervalMs - this.now();
    if (wait <= 0) return this.pass(key);
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      this.pass(key);
    }, wait));
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private pass(key: string): void {
    // Bounded: forgetting when old batches passed costs at most one early pass each.
    if (this.last.size >= 10_000) this.last.clear();
    this.last.set(key, this.now());
    this.fire(key);
  }
}
