import type { Logger } from "../../common/logger.js";
import { outputsPrefix, uploadsPrefix } from "../../common/job/input-access.js";
import { parseInputUri } from "../../common/job/input-uri.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { batchManifestKey } from "../../common/batch.js";
import { batchItemOutputKeys } from "./batch-files.js";


/** A finished job whose files are past its tenant's retention, as the sweeper sees it. */
export interface DueJob {
  uid: string;
  namespace: string;
  /** status.output.uri; null when the job has no output. */
  outputUri: string | null;
  inputUri: string | null;
  /** True when another job whose files are kept still names the same input (an upload used twice). */
  inputShared: boolean;
  /** A batch job: its manifest (its output, or where the operator writes one when the job has none: a canceled batch) lists the item outputs deleted with it. */
  batch?: { name: string };
}

export interface RetentionRows {
  sweep(defaultDays: number, limit: number, remove: (jobs: DueJob[]) => Promise<string[]>): Promise<string[]>;
  daysOf(namespace: string): Promise<number | undefined>;
}

/** Days each namespace's outputs are kept: the tenant's own, else the default; read again after a few seconds. */
export class OutputRetention {
  private readonly cache = new Map<string, { days: Promise<number>; until: number }>();

  constructor(private readonly deps: { rows: Pick<RetentionRows, "daysOf">; defaultDays: number; cacheMs?: number; now?: () => number }) {}

  get defaultDays(): number {
    return this.deps.defaultDays;
  }

  daysFor(namespace: string): Promise<number> {
    const now = (this.deps.now ?? Date.now)();
    const hit = this.cache.get(namespace);
    if (hit && hit.until > now) return hit.days;
    const days = this.deps.rows.daysOf(namespace).then((d) => d ?? this.deps.defaultDays, () => this.deps.defaultDays);
    this.cache.set(namespace, { days, until: now + (this.deps.cacheMs ?? 5000) });
    return days;
  }
}

/**
 * Deletes the files of jobs finished longer ago than their tenant's retention: the output, and the
 * input when it is an upload of the job's namespace that no kept job still names; of a batch, the
 * manifest and every item output it lists (item inputs are left: docs/batch.md). Only keys inside
 * the namespace's own outputs/ and uploads/ are ever deleted. Each API replica runs one; the rows
 * are claimed with SKIP LOCKED, so each job's files are deleted by one sweeper. A missing object
 * counts as deleted; a storage error leaves the job for the next sweep.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: {
    rows: Pick<RetentionRows, "sweep">; store: Pick<ObjectStore, "delete" | "keyOf" | "get">; log: Logger;
    defaultDays: number; intervalMs: number; batch?: number;
  }) {}

  /** Sweeps every intervalMs (the first after one interval). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweepAll().catch((err: unknown) => this.deps.log.warn({ err }, "Retention sweep failed; retried at the next"))
        .finally(() => { this.running = undefined; });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Batches until none is left (or a batch deleted nothing); the number of jobs marked expired. */
  async sweepAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { claimed, marked } = await this.sweepOnce();
      total += marked;
      if (claimed === 0 || marked === 0) return total;
    }
  }

  /** One batch: how many jobs were claimed and how many marked expired. */
  async sweepOnce(): Promise<{ claimed: number; marked: number }> {
    let claimed = 0;
    const marked = await this.deps.rows.sweep(this.deps.defaultDays, this.deps.batch ?? 50, async (jobs) => {
      claimed = jobs.length;
      const done = await Promise.all(jobs.map(async (job) => ((await this.removeFiles(job)) ? job.uid : undefined)));
      return done.filter((uid): uid is string => uid !== undefined);
    });
    if (marked.length > 0) this.deps.log.info({ jobs: marked.length }, "Expired job outputs deleted");
    return { claimed, marked: marked.length };
  }

  private async removeFiles(job: DueJob): Promise<boolean> {
    const keys = filesOf(job, this.deps.store);
    try {
      // A batch's item outputs before its manifest (among `keys`): a sweep cut short finds them listed again at the next.
      const manifest = job.batch && (job.outputUri === null ? batchManifestKey(job.namespace, job.batch.name, job.uid) : this.deps.store.keyOf(job.outputUri));
      const ownManifest = manifest && manifest.startsWith(outputsPrefix(job.namespace)) ? manifest : undefined;
      const items = ownManifest ? await batchItemOutputKeys(job.namespace, ownManifest, this.deps.store) : [];
      for (const key of items) await this.deps.store.delete(key);
      for (const key of keys) await this.deps.store.delete(key);
      if (ownManifest && !keys.includes(ownManifest)) await this.deps.store.delete(ownManifest);
      return true;
    } catch (err) {
      this.deps.log.warn({ job: job.uid, err }, "Could not delete an expired job's files; retried at the next sweep");
      return false;
    }
  }
}

/** The keys of the job's own files in the store: never a key outside its namespace's outputs/ and uploads/. */
export function filesOf(job: DueJob, store: Pick<ObjectStore, "keyOf">): string[] {
  const keys: string[] = [];
  const output = job.outputUri === null ? undefined : store.keyOf(job.outputUri);
  if (output !== undefined && output.startsWith(outputsPrefix(job.namespace))) keys.push(output);
  // parseInputUri, as everywhere an input is read: it refuses a malformed key and one with '..'.
  const input = job.inputUri === null ? undefined : parseInputUri(job.inputUri);
  if (input && "scheme" in input && input.scheme === "upload" && !job.inputShared && input.key.startsWith(uploadsPrefix(job.namespace))) keys.push(input.key);
  return keys;
}
