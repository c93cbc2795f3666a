/**
 * What this controller last wrote, per key, until the informer's cache shows it. Without it a
 * reconcile that runs right after a write reads the stale object and decides again what it has
 * just done (a second scale, a second status write, or a 409 and a backoff).
 */
export class OwnWrites<T> {
  private readonly written = new Map<string, { staleRv: string | undefined; value: T }>();

  /** `staleRv`: the resourceVersion the cache held when we wrote. */
  remember(key: string, staleRv: string | undefined, value: T): void {
    this.written.set(key, { staleRv, value });
  }

  /** Our write while the cache still holds `cachedRv` = the version we wrote over; else undefined. */
  pending(key: string, cachedRv: string | undefined): T | undefined {
    const mine = this.written.get(key);
    if (!mine) return undefined;
    if (cachedRv !== undefined && cachedRv === mine.staleRv) return mine.value;
    this.written.delete(key); // the cache has caught up (or the object was replaced)
    return undefined;
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}
