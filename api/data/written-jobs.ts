import type { JobRecord } from "../domain/job-record.js";
import type { JobListQuery, JobRepository, UpsertOutcome, UsageRow } from "../domain/ports.js";

/** States remembered at most; past that the oldest go (forgetting one costs one statement). */
const MAX_REMEMBERED = 10_000;

/**
 * The jobs table, remembering the new jobs' states this process has just written: the submit
 * path writes a new job's row before it answers, and the mirror sees the same state (the
 * ImageJob's ADDED event, same resourceVersion) and writes it too; whichever comes second can
 * only find the row holding that state already. That second write is answered `false` as
 * Postgres would answer it (a row moves only forward in resourceVersion), without a statement.
 * Every other call goes through.
 */
export class WrittenJobs implements JobRepository {
  /** uid → resourceVersion the submit path wrote, until the mirror's write of that state. */
  private readonly bySubmit = new Map<string, bigint>();
  /** uid → resourceVersion of a new job (Pending) the mirror wrote, until the submit path's write of it. */
  private readonly byMirror = new Map<string, bigint>();

  constructor(private readonly inner: JobRepository) {}

  async upsert(record: JobRecord): Promise<boolean> {
    if (take(this.byMirror, record)) return false;
    const wrote = await this.inner.upsert(record);
    if (wrote) remember(this.bySubmit, record);
    return wrote;
  }

  async upsertMany(records: readonly JobRecord[]): Promise<Map<string, UpsertOutcome>> {
    const known = new Set(records.filter((r) => take(this.bySubmit, r)));
    const rest = records.filter((r) => !known.has(r));
    const outcomes = rest.length ? await this.inner.upsertMany(rest) : new Map<string, UpsertOutcome>();
    for (const r of rest) if (r.phase === "Pending" && outcomes.get(r.uid)?.wrote) remember(this.byMirror, r);
    for (const r of records) if (!outcomes.has(r.uid)) outcomes.set(r.uid, { wrote: false });
    return outcomes;
  }

  markDeleted(uid: string, at: Date) {
    return this.inner.markDeleted(uid, at);
  }

  markCanceled(uid: string, at: Date, error: { reason: string; message: string }) {
    return this.inner.markCanceled(uid, at, error);
  }

  settleMissing(present: readonly string[], list: { resourceVersion: bigint; takenAt: Date }, unseenEnd: { reason: string; message: string }) {
    return this.inner.settleMissing(present, list, unseenEnd);
  }

  get(namespace: string, uid: string) {
    return this.inner.get(namespace, uid);
  }

  list(query: JobListQuery) {
    return this.inner.list(query);
  }

  countActive(namespace: string) {
    return this.inner.countActive(namespace);
  }

  usage(q: { from: Date; until: Date; tenant?: { name: string; namespace: string } }): Promise<UsageRow[]> {
    return this.inner.usage(q);
  }
}

/** True, once, when `written` holds the record's state or a newer one of its job. */
function take(written: Map<string, bigint>, r: JobRecord): boolean {
  const rv = written.get(r.uid);
  if (rv === undefined || rv < r.resourceVersion) return false;
  written.delete(r.uid);
  return true;
}

function remember(written: Map<string, bigint>, r: JobRecord): void {
  if (written.size >= MAX_REMEMBERED) written.delete(written.keys().next().value!);
  written.set(r.uid, r.resourceVersion);
}
