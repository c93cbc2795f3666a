import type { ImageJob } from "../../common/crd-types.js";
import type { Logger } from "../../common/logger.js";
import { UnstorableJobError } from "../domain/errors.js";
import type { JobEvents } from "../domain/job-events.js";
import { isFinished } from "../../common/job/phases.js";
import { canceledRecord, toJobRecord, UNSEEN_END, type JobRecord } from "../domain/job-record.js";
import type { JobRepository } from "../domain/ports.js";
import type { Clock } from "../../common/clock.js";
import { ListWatch, type ListWatchSource, type ObjectEventType } from "../../common/kube/list-watch.js";
import { hasOwnTtl } from "../../common/job/retention.js";
import type { FinishedJobDeleter } from "./finished-job-deleter.js";

export interface JobMirrorOptions {
  source: ListWatchSource<ImageJob>;
  jobs: JobRepository;
  events: JobEvents;
  log: Logger;
  /** Deletes finished ImageJobs once their end is committed here (ADR 0018); none: they stay for the operator's TTL. */
  deleter?: FinishedJobDeleter;
  clock?: Clock;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Parallel writes while applying a full list: enough to be quick, few enough to spare the pool. */
const SYNC_CONCURRENCY = 8;

/**
 * Keeps the `jobs` table equal to the ImageJobs of every namespace (each tenant's), whoever created them (the API or
 * kubectl), and tells followers of a job about each new state. A job gone from the apiserver
 * keeps its row, marked deleted. Once a finished job's end is committed, it is handed to the
 * deleter: the row is the history now, and etcd need not keep the job.
 */
export class JobMirror {
  private readonly loop: ListWatch<ImageJob>;
  private readonly log: Logger;

  constructor(private readonly opts: JobMirrorOptions) {
    this.log = opts.log.child({ component: "mirror" });
    this.loop = new ListWatch(opts.source, { synced: (items, rv, takenAt) => this.applyList(items, rv, takenAt), changed: (t, o) => this.applyEvent(t, o) }, {
      log: this.log, clock: opts.clock, baseDelayMs: opts.baseDelayMs, maxDelayMs: opts.maxDelayMs,
    });
  }

  get synced(): boolean {
    return this.loop.synced;
  }

  start(): void {
    this.loop.start();
    this.log.info("Mirror started");
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.opts.deleter?.stop();
    this.log.info("Mirror stopped");
  }

  private async applyList(items: ImageJob[], resourceVersion: string, takenAt: Date): Promise<void> {
    const records = items.map((item) => toJobRecord(item));
    for (let i = 0; i < records.length; i += SYNC_CONCURRENCY) {
      await Promise.all(items.slice(i, i + SYNC_CONCURRENCY).map(async (item, j) => {
        const record = records[i + j]!;
        // Finished and recorded while no API watched (it was down): deleted now, nothing lingers.
        this.release(item, record, await this.write(record));
      }));
    }
    if (resourceVersion) {
      // Deleted while nobody watched (or rows of an earlier cluster): the list no longer has them.
      const list = { resourceVersion: BigInt(resourceVersion), takenAt };
      const gone = await this.opts.jobs.settleMissing(records.map((r) => r.uid), list, UNSEEN_END);
      gone.forEach((r) => this.opts.events.emit(r));
      if (gone.length) this.log.info({ jobs: gone.length }, "Settled jobs deleted while the mirror was away");
    }
    this.log.info({ jobs: records.length, resourceVersion }, "Mirror synced");
  }

  private async applyEvent(type: ObjectEventType, job: ImageJob): Promise<void> {
    const seen = toJobRecord(job);
    // kubectl delete of a job that had not finished cancels it (the operator stops its work); a
    // finished one keeps its ending. The DELETED event is all that is left to say so.
    const record = type === "DELETED" && !isFinished(seen.phase) ? canceledRecord(seen, new Date()) : seen;
    const wrote = await this.write(record, type !== "DELETED");
    if (type !== "DELETED") this.release(job, record, wrote);
    if (type === "DELETED") {
      this.opts.deleter?.forget(record.uid);
      const stored = await this.opts.jobs.markDeleted(record.uid, new Date());
      this.opts.events.emit(stored ?? { ...record, deletedAt: new Date() });
      this.log.debug({ job: record.uid, phase: record.phase }, "Job deleted");
    }
  }

  /**
   * Hands a finished job whose state is committed (`wrote` defined) to the deleter, unless its
   * spec keeps a TTL of its own (the operator's then). Never one the mirror could not store: its
   * end would be lost with it.
   */
  private release(job: ImageJob, record: JobRecord, wrote: boolean | undefined): void {
    const { deleter } = this.opts;
    if (!deleter || wrote === undefined || !isFinished(job.status?.phase) || hasOwnTtl(job)) return;
    const target = { namespace: record.namespace, name: record.name, uid: record.uid, resourceVersion: String(record.resourceVersion) };
    deleter.schedule(target, record.finishedAt, wrote);
  }

  /** Upserts the record: true when this call wrote it, false when the row already held it (or newer), undefined when it cannot be stored. */
  private async write(record: JobRecord, emit = true): Promise<boolean | undefined> {
    let wrote: boolean;
    try {
      wrote = await this.opts.jobs.upsert(record);
    } catch (err) {
      // Retrying would stop the mirror on this one job for good; skip it and say so.
      if (!(err instanceof UnstorableJobError)) throw err;
      this.log.error({ job: record.uid, name: record.name, err }, "Job cannot be mirrored, skipped");
      return undefined;
    }
    this.log.debug({ job: record.uid, phase: record.phase, resourceVersion: String(record.resourceVersion), wrote }, "Job mirrored");
    // Told even when another replica wrote the row first: its followers are here. A follower
    // drops states older than one it has shown.
    if (emit) this.opts.events.emit(record);
    return wrote;
  }
}
