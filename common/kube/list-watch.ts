import type { Logger } from "../logger.js";
import { systemClock, type Clock } from "../clock.js";

export type ObjectEventType = "ADDED" | "MODIFIED" | "DELETED";

export type WatchEvent<T> =
  | { type: ObjectEventType | "BOOKMARK"; object: T }
  | { type: "ERROR"; object: { code?: number; message?: string } };

export interface WatchHandle {
  /** Settles when the watch ends: resolved when the server closed it, rejected on an error. */
  done: Promise<void>;
  abort(): void;
}

/** Where a ListWatch reads from: the apiserver in production, a script in unit tests. */
export interface ListWatchSource<T> {
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void): Promise<WatchHandle>;
}

export interface ObjectEvent<T> {
  type: ObjectEventType;
  object: T;
}

export interface ListWatchHandlers<T> {
  /** After every full list (at start and after 410 Gone): the whole current set, and when the list was asked for. */
  synced(items: T[], resourceVersion: string, takenAt: Date): Promise<void>;
  changed(type: ObjectEventType, object: T): Promise<void>;
  /**
   * When given, called instead of `changed` with every event that arrived while the previous call
   * ran (in order, at most MAX_BATCH): a handler that writes elsewhere can write them together.
   * The resourceVersion moves past the batch only once the whole of it succeeded.
   */
  changedBatch?(events: ObjectEvent<T>[]): Promise<void>;
}

/** Events handed to changedBatch at once, at most. */
export const MAX_BATCH = 256;

export interface ListWatchOptions {
  log: Logger;
  clock?: Clock;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

type Versioned = { metadata?: { resourceVersion?: string } };

/**
 * A list then watch loop in client-go's shape. Events are handled in order, one at a time (or,
 * with changedBatch, those that queued up meanwhile together), and the resourceVersion moves past
 * an event only once its handler succeeded, so a failed handler (Postgres away) gets the event
 * again on the next watch. 410 Gone relists at once; any other
 * failure retries after a capped exponential backoff.
 */
export class ListWatch<T extends Versioned> {
  private readonly clock: Clock;
  private resourceVersion = "";
  private stopped = true;
  private failures = 0;
  private current: WatchHandle | undefined;
  private sleeping: { handle: unknown; wake: () => void } | undefined;
  private loop: Promise<void> | undefined;
  private hasSynced = false;

  constructor(
    private readonly source: ListWatchSource<T>,
    private readonly handlers: ListWatchHandlers<T>,
    private readonly opts: ListWatchOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  /** True once a full list has been handled. */
  get synced(): boolean {
    return this.hasSynced;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    if (this.sleeping) {
      this.clock.clearTimeout(this.sleeping.handle);
      this.sleeping.wake();
    }
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = this.clock.now();
      try {
        if (!this.resourceVersion) await this.relist();
        const sawEvents = await this.watchOnce();
        if (this.stopped) break;
        // A watch the server closes at once, again and again, must not spin.
        if (sawEvents || this.clock.now() - started >= 1000) this.failures = 0;
        else await this.backoff("Watch ended at once");
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.resourceVersion = "";
          continue;
        }
        await this.backoff("List or watch failed", err);
      }
    }
  }

  private async relist(): Promise<void> {
    const takenAt = new Date(this.clock.now());
    const list = await this.source.list();
    await this.handlers.synced(list.items, list.resourceVersion, takenAt);
    this.resourceVersion = list.resourceVersion;
    this.hasSynced = true;
    this.opts.log.debug({ items: list.items.length, resourceVersion: list.resourceVersion }, "Listed");
  }

  /** Watches until the watch ends; true if it delivered any event. Throws on failure. */
  private async watchOnce(): Promise<boolean> {
    let chain = Promise.resolve();
    let failure: unknown;
    let seen = false;
    let arrived: WatchEvent<T>[] = [];
    const fail = (err: unknown) => {
      failure ??= err;
      this.current?.abort();
    };
    // Events wait in `arrived` while the chain is busy; each link takes all of them, in order.
    const handle = await this.source.watch(this.resourceVersion, (event) => {
      arrived.push(event);
      if (arrived.length > 1) return; // a link is already queued to take it
      chain = chain.then(async () => {
        const events = arrived;
        arrived = [];
        if (failure !== undefined || this.stopped) return;
        seen = true;
        await this.handle(events, fail);
      }).catch(fail);
    });
    this.current = handle;
    if (failure !== undefined || this.stopped) handle.abort();
    let ended: unknown;
    await handle.done.catch((err: unknown) => (ended = err));
    await chain;
    this.current = undefined;
    if (failure !== undefined) throw asError(failure);
    if (ended !== undefined) throw asError(ended);
    return seen;
  }

  /** Handles `events` in order; the resourceVersion moves past each run of them once its handler succeeded. */
  private async handle(events: WatchEvent<T>[], fail: (err: unknown) => void): Promise<void> {
    const batched = this.handlers.changedBatch !== undefined;
    let run: ObjectEvent<T>[] = [];
    const flush = async () => {
      for (let i = 0; i < run.length; i += MAX_BATCH) {
        const part = run.slice(i, i + MAX_BATCH);
        if (batched) await this.handlers.changedBatch!(part);
        else for (const e of part) await this.handlers.changed(e.type, e.object);
        this.resourceVersion = part.at(-1)!.object.metadata?.resourceVersion || this.resourceVersion;
      }
      run = [];
    };
    for (const event of events) {
      if (this.stopped) return;
      if (event.type === "ERROR") {
        await flush();
        return fail(Object.assign(new Error(event.object.message ?? "watch error"), { code: event.object.code }));
      }
      if (event.type !== "BOOKMARK") {
        run.push({ type: event.type, object: event.object });
        // One at a time without a batch handler, as before: each moves the resourceVersion once handled.
        if (!batched) await flush();
        continue;
      }
      await flush();
      this.resourceVersion = event.object.metadata?.resourceVersion || this.resourceVersion;
    }
    await flush();
  }

  private async backoff(message: string, err?: unknown): Promise<void> {
    if (this.stopped) return;
    const delay = Math.min((this.opts.baseDelayMs ?? 200) * 2 ** this.failures++, this.opts.maxDelayMs ?? 30_000);
    this.opts.log.warn({ err: err === undefined ? undefined : errorMessage(err), retryInMs: delay }, message);
    await new Promise<void>((wake) => {
      const handle = this.clock.setTimeout(wake, delay);
      this.sleeping = { handle, wake };
    });
    this.sleeping = undefined;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isGone(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  return e?.code === 410 || e?.statusCode === 410;
}

/** One line for a log; client-node's ApiException has the apiserver's own words in its Status body. */
export function errorMessage(err: unknown): string {
  const e = (err ?? {}) as { message?: string; code?: unknown; statusCode?: unknown; body?: unknown };
  const status = typeof e.code === "number" ? e.code : e.statusCode;
  if (typeof status !== "number") return e.message || String(err);
  return `HTTP ${status}: ${statusMessage(e.body) ?? e.message ?? ""}`;
}

function statusMessage(body: unknown): string | undefined {
  if (body === undefined || body === null || body === "") return undefined;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  try {
    const message = (JSON.parse(text) as { message?: unknown } | null)?.message;
    if (typeof message === "string") return message;
  } catch {
    // not JSON: the body as it came
  }
  return text.slice(0, 300);
}
