import type { Logger } from "../../common/logger.js";
import { JobFinishedError } from "./errors.js";
import type { JobEvents } from "./job-events.js";
import type { JobQueries } from "./job-queries.js";
import { isFinished } from "../../common/job/phases.js";
import { CANCELED_ERROR, toJobRecord, type JobRecord } from "./job-record.js";
import type { Cluster, JobRepository } from "./ports.js";
import type { Principal } from "./principal.js";

export interface CancelJobDeps {
  cluster: Cluster;
  jobs: JobRepository;
  queries: JobQueries;
  events: JobEvents;
  log: Logger;
  now?: () => Date;
}

export interface CancelOutcome {
  record: JobRecord;
  /** False when the job was canceled already: asking again changes nothing. */
  canceledNow: boolean;
}

/**
 * Canceling a job is deleting its ImageJob: the operator sees the delete and stops the work
 * (operator/cancel-jobs.ts). The row says Canceled at once, so a GET right after the answer
 * shows it; the mirror never moves a Canceled row back.
 */
export class CancelJob {
  private readonly now: () => Date;

  constructor(private readonly deps: CancelJobDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** JobNotFoundError for an unknown id; JobFinishedError for a job that succeeded or failed. */
  async cancel(principal: Principal, id: string): Promise<CancelOutcome> {
    const found = await this.deps.queries.record(principal, id);
    if (found.phase === "Canceled") return { record: found, canceledNow: false };
    if (isFinished(found.phase)) throw new JobFinishedError(found.uid, found.phase);
    const gone = await this.deps.cluster.deleteJob(found.namespace, found.name, found.uid);
    const last = gone?.metadata.resourceVersion ? toJobRecord(gone, this.now()) : undefined;
    if (last && isFinished(last.phase)) {
      // It finished between our read and the delete: its history keeps the ending.
      await this.deps.jobs.upsert(last);
      throw new JobFinishedError(found.uid, last.phase);
    }
    const stored = await this.deps.jobs.markCanceled(found.uid, this.now(), { ...CANCELED_ERROR });
    if (stored && stored.phase !== "Canceled") throw new JobFinishedError(found.uid, stored.phase);
    const record = stored ?? found;
    this.deps.events.emit(record);
    this.deps.log.info({ job: record.uid, name: record.name, deleted: gone !== undefined }, "Job canceled");
    return { record, canceledNow: true };
  }
}
