import type { Readable } from "node:stream";
import type { ObjectStore, PutOptions, StoredObject } from "../../common/storage/index.js";
import type { DependencyHealth } from "../domain/ports.js";

/**
 * The store of the submit path, with each put and delete stopped (DependencyUnavailableError) as
 * soon as storage is found unavailable: an upload that meets a frozen S3, and the removal of what
 * it left, are answered within a health check, not at the S3 client's deadlines (a delete given up
 * so is logged by its caller). Everything else goes straight through.
 */
export class GuardedStore implements ObjectStore {
  constructor(private readonly store: ObjectStore, private readonly health: DependencyHealth, private readonly name = "storage") {}

  put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const lost = this.health.signal(this.name);
    return this.store.put(key, body, { ...opts, signal: opts.signal ? AbortSignal.any([opts.signal, lost]) : lost });
  }

  uri(key: string): string {
    return this.store.uri(key);
  }

  get(key: string): Promise<{ body: Readable; bytes: number; contentType?: string }> {
    return this.store.get(key);
  }

  head(key: string): Promise<StoredObject | undefined> {
    return this.store.head(key);
  }

  copy(from: string, to: string): Promise<StoredObject | undefined> {
    return this.guarded(() => this.store.copy(from, to));
  }

  delete(key: string): Promise<void> {
    return this.guarded(() => this.store.delete(key));
  }

  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return this.store.presignGet(key, expiresInSeconds);
  }

  keyOf(uri: string): string | undefined {
    return this.store.keyOf(uri);
  }

  check(signal?: AbortSignal): Promise<void> {
    return this.store.check(signal);
  }

  close(): void {
    this.store.close();
  }

  /** `run`, or its signal's reason as soon as storage is found unavailable (without running it, if it is now). */
  private async guarded<T>(run: () => Promise<T>): Promise<T> {
    const lost = this.health.signal(this.name);
    lost.throwIfAborted();
    let onAbort = () => {};
    const abandoned = new Promise<never>((_, reject) => {
      onAbort = () => reject(lost.reason as Error);
      lost.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([run(), abandoned]);
    } finally {
      lost.removeEventListener("abort", onAbort);
    }
  }
}
