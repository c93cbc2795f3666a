import type { ImageJob } from "../../common/crd-types.js";
import type { Logger } from "../../common/logger.js";
import { UnstorableJobError } from "../domain/errors.js";
import type { JobEvents } from "../domain/job-events.js";
import { isFinished } from "../../common/job/phases.js";
import { canceledRecord, toJobRecord, UNSEEN_END, type JobRecord } from "../domain/job-record.js";
import type { JobRepository } from "../domain/ports.js";
import type { Clock } from "../../common/clock.js";
import { ListWatch, type ListWatchSource, type ObjectEvent } from "../../common/kube/list-watch.js";
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

/** Rows per statement while applying a full list. */
const SYNC_BATCH = 256;

/** How a record's write went: whether it wrote, and the row's deleted_at when the batch statement said. */
interface Written {
  wrote: boolean;
  deletedAt?: Date | null;
}

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
    this.loop = new ListWatch(opts.source, {
      synced: (items, rv, takenAt) => this.applyList(items, rv, takenAt),
      changed: (type, object) => this.applyEvents([{ type, object }]),
      // Events that came while the last ones were written go to Postgres together: one statement, not one each.
      changedBatch: (events) => this.applyEvents(events),
    }, {
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
    for (let i = 0; i < records.length; i += SYNC_BATCH) {
      const written = await this.writeAll(records.slice(i, i + SYNC_BATCH));
      items.slice(i, i + SYNC_BATCH).forEach((item, j) => {
        const record = records[i + j]!;
        const outcome = written[j];
        if (outcome) this.emitWritten(record, outcome.wrote);
        // Finished and recorded while no API watched (it was down): deleted now, nothing lingers.
        this.release(item, record, outcome?.wrote);
      });
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

  /**
   * Writes the states the events carry (one statement for all of them), then tells followers of
   * each, in the events' order. A gone job is written with its deleted_at in the same statement.
   */
  private async applyEvents(events: readonly ObjectEvent<ImageJob>[]): Promise<void> {
    const now = new Date();
    const items = events.map(({ type, object: job }) => {
      const seen = toJobRecord(job);
      // kubectl delete of a job that had not finished cancels it (the operator stops its work); a
      // finished one keeps its ending. The DELETED event is all that is left to say so.
      const ended = type === "DELETED" && !isFinished(seen.phase) ? canceledRecord(seen, now) : seen;
      return { type, job, record: type === "DELETED" ? { ...ended, deletedAt: ended.deletedAt ?? now } : ended };
    });
    const written = await this.writeAll(items.map((i) => i.record));
    // A job's last event in the batch is the one its deleter hears of (an earlier one's target is stale).
    const last = new Map(items.map((item, i) => [item.record.uid, i]));
    for (const [i, { type, job, record }] of items.entries()) {
      const outcome = written[i];
      if (type !== "DELETED") {
        if (!outcome) continue; // cannot be stored: logged, skipped
        this.emitWritten(record, outcome.wrote);
        if (last.get(record.uid) === i) this.release(job, record, outcome.wrote);
        continue;
      }
      this.opts.deleter?.forget(record.uid);
      // Written as gone just now: the row is this record. Else (a newer row, a canceled one) mark it and read it.
      const stored = outcome?.wrote && outcome.deletedAt ? { ...record, deletedAt: outcome.deletedAt } : await this.opts.jobs.markDeleted(record.uid, now);
      this.opts.events.emit(stored ?? record);
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

  /**
   * Upserts the records in one statement; how it went for each, undefined for one that cannot be
   * stored. When Postgres refuses the batch for one record's data, they are written one by one:
   * retrying would stop the mirror on that one job for good, so it is skipped and logged.
   */
  private async writeAll(records: readonly JobRecord[]): Promise<(Written | undefined)[]> {
    try {
      const written = await this.opts.jobs.upsertMany(records);
      return records.map((r) => written.get(r.uid));
    } catch (err) {
      if (!(err instanceof UnstorableJobError)) throw err;
    }
    const written: (Written | undefined)[] = [];
    for (const record of records) {
      try {
        written.push({ wrote: await this.opts.jobs.upsert(record) });
      } catch (err) {
        if (!(err instanceof UnstorableJobError)) throw err;
        this.log.error({ job: record.uid, name: record.name, err }, "Job cannot be mirrored, skipped");
        written.push(undefined);
      }
    }
    return written;
  }

  /**
   * Tells followers of a job about a state now in Postgres, even when another replica wrote the
   * row first: its followers are here. A follower drops states older than one it has shown.
   */
  private emitWritten(record: JobRecord, wrote: boolean): void {
    this.log.debug({ job: record.uid, phase: record.phase, resourceVersion: String(record.resourceVersion), wrote }, "Job mirrored");
    this.opts.events.emit(record);
  }
}
