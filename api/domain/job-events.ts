import type { JobRecord } from "./job-record.js";

export type JobListener = (record: JobRecord) => void;

/**
 * Changes to jobs as the mirror sees them, to whoever follows one job (the SSE streams). In
 * process only: every API replica runs its own mirror, so each hears every change itself.
 */
export class JobEvents {
  private readonly listeners = new Map<string, Set<JobListener>>();

  /** Calls `listener` with each new state of job `uid`; the returned function unsubscribes. */
  subscribe(uid: string, listener: JobListener): () => void {
    let set = this.listeners.get(uid);
    if (!set) this.listeners.set(uid, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(uid) === set) this.listeners.delete(uid);
    };
  }

  emit(record: JobRecord): void {
    for (const listener of [...(this.listeners.get(record.uid) ?? [])]) listener(record);
  }

  /** How many jobs have followers (for tests and metrics). */
  get followed(): number {
    return this.listeners.size;
  }
}
