import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../common/logger.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { IdempotencyKeyInProgressError, IdempotencyKeyReusedError, JobNotFoundError } from "./errors.js";
import type { JobRecord } from "./job-record.js";
import type { IdempotencyRepository, JobRepository } from "./ports.js";
import type { Principal } from "./principal.js";
import type { JobRequest, SubmitJob } from "./submit-job.js";

export interface IdempotentSubmitDeps {
  submit: SubmitJob;
  keys: IdempotencyRepository;
  jobs: JobRepository;
  /** Where the request's upload is, deleted when the job of an earlier request answers. */
  store: ObjectStore;
  log: Logger;
  /** How long a key answers with its job: 24 h. */
  ttlMs?: number;
  /** A key left without a job this long (its request died mid-way) may be claimed again: 60 s. */
  pendingMs?: number;
  /** How long a duplicate waits for the first request to create the job: 10 s. */
  waitMs?: number;
  pollMs?: number;
}

export interface SubmitOutcome {
  record: JobRecord;
  /** True when an earlier request with the same key created the job. */
  replayed: boolean;
}

/**
 * A submit under an idempotency key: the first request claims the key (a row, inserted before
 * the ImageJob is created), later ones with the same request get the same job, and ones with
 * another request are refused. Concurrent duplicates wait for the first one's job.
 */
export class IdempotentSubmit {
  constructor(private readonly deps: IdempotentSubmitDeps) {}

  /** `uploadKey`: the object this request uploaded; SubmitJob owns it once called, else it is deleted here. */
  /** Keys are the tenant's: the same key from two tenants names two claims. `requestId`: stamped on a job this request creates. */
  async submit(principal: Principal, key: string, request: JobRequest, hash: string, uploadKey?: string, requestId?: string): Promise<SubmitOutcome> {
    let handedOver = false;
    try {
      const outcome = await this.claimOrReplay(principal, key, request, hash, { uploadKey, requestId }, () => (handedOver = true));
      if (outcome.replayed && uploadKey !== undefined) await this.discard(uploadKey);
      return outcome;
    } catch (err) {
      if (!handedOver && uploadKey !== undefined) await this.discard(uploadKey);
      throw err;
    }
  }

  private async claimOrReplay(principal: Principal, key: string, request: JobRequest, hash: string, made: { uploadKey?: string; requestId?: string }, handOver: () => void): Promise<SubmitOutcome> {
    const { keys } = this.deps;
    const { namespace } = principal;
    const deadline = Date.now() + (this.deps.waitMs ?? 10_000);
    for (;;) {
      const claim = await keys.claim(namespace, key, hash, this.deps.ttlMs ?? 24 * 3600_000, this.deps.pendingMs ?? 60_000);
      if (claim.claimed) {
        handOver();
        return { record: await this.create(principal, key, request, hash, made), replayed: false };
      }
      const entry = claim.entry;
      if (entry && entry.requestHash !== hash) throw new IdempotencyKeyReusedError();
      if (entry?.jobUid) return { record: await this.recorded(namespace, entry.jobUid), replayed: true };
      if (Date.now() > deadline) throw new IdempotencyKeyInProgressError();
      await sleep(this.deps.pollMs ?? 50);
    }
  }

  private async create(principal: Principal, key: string, request: JobRequest, hash: string, made: { uploadKey?: string; requestId?: string }): Promise<JobRecord> {
    let record: JobRecord;
    try {
      record = await this.deps.submit.submit(principal, request, made.uploadKey, made.requestId);
    } catch (err) {
      await this.deps.keys.release(principal.namespace, key, hash).catch((e: unknown) =>
        this.deps.log.warn({ err: e }, "Could not release an Idempotency-Key after a failed submit"));
      throw err;
    }
    await this.deps.keys.complete(principal.namespace, key, record.uid);
    return record;
  }

  private async discard(uploadKey: string): Promise<void> {
    await this.deps.store.delete(uploadKey).catch((err: unknown) => this.deps.log.error({ key: uploadKey, err }, "Could not delete an unused upload"));
  }

  private async recorded(namespace: string, uid: string): Promise<JobRecord> {
    const record = await this.deps.jobs.get(namespace, uid);
    if (!record) throw new JobNotFoundError(uid);
    return record;
  }
}
