import { firstLine, JobFailure } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { ModelSession, RunQueue, type ExecutionProvider, type SessionBackend } from "./model-session.js";
import { ThreadedSession } from "./threaded-session.js";

export type SessionFactory = (path: string, ep: ExecutionProvider) => Promise<SessionBackend>;

export interface SessionCacheOptions {
  /** PIXELMILL_EXECUTION_PROVIDERS, in order of preference. */
  executionProviders: readonly ExecutionProvider[];
  log: Logger;
  /** Versions of one model kept loaded at once, so jobs enqueued around an update don't thrash. */
  versionsPerModel?: number;
  create?: SessionFactory;
  /** Told after each native run: the model's name and how many images ran at once (metrics). */
  onRun?: (model: string, images: number) => void;
}

interface Entry {
  model: string;
  session: Promise<ModelSession>;
  users: number;
  lastUsed: number;
  retired: boolean;
}

/** Each session in its own thread, so a run never blocks the worker's JS thread. */
const createSession: SessionFactory = (path, ep) => ThreadedSession.create(path, ep);

/**
 * Loaded sessions by model name and version (the ImageModel's resourceVersion), reused across
 * jobs. A session in use is never released under a job: retiring one (an older version beyond
 * `versionsPerModel`, or close()) waits until its last user is done. A session whose thread
 * died is dropped at once, so the next job loads the model again.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  /** Providers that failed to start in this process: skipped from then on, logged once. */
  private readonly unavailable = new Set<ExecutionProvider>();
  private readonly disposals: Promise<void>[] = [];
  /** One run at a time across this cache's sessions (see ModelSession). */
  private readonly runs = new RunQueue();
  private closed = false;

  constructor(private readonly opts: SessionCacheOptions) {}

  /** Runs `fn` with the model's session, loading it from `file()` if this version has none yet. */
  async use<T>(model: string, version: string, file: () => Promise<string>, fn: (session: ModelSession) => Promise<T>): Promise<T> {
    if (this.closed) throw new JobFailure("InferenceError", "the inference engine is closed (the worker is stopping)");
    const entry = this.entry(model, version, file);
    entry.users++;
    entry.lastUsed = performance.now();
    try {
      return await fn(await entry.session);
    } finally {
      entry.users--;
      if (entry.retired && entry.users === 0) this.dispose(entry);
    }
  }

  /** Releases every session; runs in progress finish first. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) this.retire(entry);
    this.entries.clear();
    await Promise.allSettled(this.disposals);
  }

  private entry(model: string, version: string, file: () => Promise<string>): Entry {
    const key = `${model}@${version}`;
    const entry = this.entries.get(key);
    if (entry) return entry;
    const session = this.load(model, file);
    const created: Entry = { model, session, users: 0, lastUsed: performance.now(), retired: false };
    const forget = (): void => {
      if (this.entries.get(key) === created) this.entries.delete(key);
    };
    this.entries.set(key, created);
    // A failed load is forgotten, so the next job tries again (the error may be transient).
    session.then((s) => s.onCrash((err) => {
      forget();
      created.retired = true;
      this.opts.log.warn({ model, version, ep: s.ep, err: firstLine(err) }, "Session thread stopped, dropped from the cache");
    }), forget);
    this.evictOldVersions(model);
    return created;
  }

  private evictOldVersions(model: string): void {
    const limit = this.opts.versionsPerModel ?? 2;
    const same = [...this.entries.entries()].filter(([, e]) => e.model === model).sort(([, a], [, b]) => b.lastUsed - a.lastUsed);
    for (const [key, entry] of same.slice(limit)) {
      this.entries.delete(key);
      this.retire(entry);
    }
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    if (entry.users === 0) this.dispose(entry);
  }

  private dispose(entry: Entry): void {
    this.disposals.push(entry.session.then((s) => s.release(), () => undefined));
  }

  /** Tries each execution provider in order; one that fails is logged and skipped. */
  private async load(model: string, file: () => Promise<string>): Promise<ModelSession> {
    const path = await file();
    const create = this.opts.create ?? createSession;
    const candidates = this.opts.executionProviders.filter((ep) => !this.unavailable.has(ep));
    const failed: ExecutionProvider[] = [];
    let last: unknown;
    for (const ep of candidates) {
      try {
        const session = await create(path, ep);
        // Only now is it clear the failures were the providers', not the model's.
        for (const f of failed) this.unavailable.add(f);
        this.opts.log.info({ model, ep }, "Session created");
        const onRun = this.opts.onRun;
        return new ModelSession(session, ep, this.runs, onRun && ((images) => onRun(model, images)),
          (why) => this.opts.log.warn({ model, ep, why }, "Batched runs do not work for this model; running its images one at a time"));
      } catch (err) {
        last = err;
        failed.push(ep);
        this.opts.log.warn({ model, ep, err: firstLine(err) }, "Execution provider unavailable, falling back");
      }
    }
    throw new JobFailure("ModelUnavailable", `no execution provider (${candidates.join(", ")}) could load the model: ${firstLine(last)}`, { cause: last });
  }
}
