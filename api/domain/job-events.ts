import type { JobProgress } from "../../common/job/progress.js";
import type { JobRecord } from "./job-record.js";

export type JobListener = (record: JobRecord) => void;
export type ProgressListener = (progress: JobProgress) => void;

/**
 * Changes to jobs as the mirror sees them, to whoever follows a job or a namespace (SSE, WebSockets). In
 * process only: every API replica runs its own mirror, so each hears every change itself.
 */
export class JobEvents {
  private readonly listeners = new Listeners<JobRecord>();
  private readonly progressListeners = new Listeners<JobProgress>();
  // Followers of every job of a namespace (a WebSocket subscribed to `all`), keyed by namespace.
  private readonly namespaceListeners = new Listeners<JobRecord>();
  private readonly namespaceProgressListeners = new Listeners<JobProgress>();

  /** Calls `listener` with each new state of job `uid`; the returned function unsubscribes. */
  subscribe(uid: string, listener: JobListener): () => void {
    return this.listeners.add(uid, listener);
  }

  emit(record: JobRecord): void {
    this.listeners.call(record.uid, record);
    this.namespaceListeners.call(record.namespace, record);
  }

  /** Calls `listener` with each new state of every job of `namespace` (and `progress` with their progress reports). */
  subscribeNamespace(namespace: string, listener: JobListener, progress: ProgressListener): () => void {
    const status = this.namespaceListeners.add(namespace, listener);
    const reports = this.namespaceProgressListeners.add(namespace, progress);
    return () => {
      status();
      reports();
    };
  }

  /** Calls `listener` with each progress report of job `uid` (from workers, through Redis: api/data/progress-feed.ts). */
  subscribeProgress(uid: string, listener: ProgressListener): () => void {
    return this.progressListeners.add(uid, listener);
  }

  emitProgress(progress: JobProgress): void {
    this.progressListeners.call(progress.uid, progress);
    this.namespaceProgressListeners.call(progress.namespace, progress);
  }

  /** How many jobs have followers (for tests and metrics). */
  get followed(): number {
    return this.listeners.size;
  }

  /** How many namespaces have followers of all their jobs (for tests). */
  get followedNamespaces(): number {
    return this.namespaceListeners.size;
  }
}

/** Listeners by job UID; a UID without listeners takes no room. */
class Listeners<T> {
  private readonly byUid = new Map<string, Set<(value: T) => void>>();

  add(uid: string, listener: (value: T) => void): () => void {
    let set = this.byUid.get(uid);
    if (!set) this.byUid.set(uid, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byUid.get(uid) === set) this.byUid.delete(uid);
    };
  }

  call(uid: string, value: T): void {
    for (const listener of [...(this.byUid.get(uid) ?? [])]) listener(value);
  }

  get size(): number {
    return this.byUid.size;
  }
}
