import type { ImageJob, ImageModel } from "../../common/crd-types.js";
import type { ImageJobPhase } from "../../common/job/phases.js";
import type { JobRecord } from "./job-record.js";

/** Position after which a page starts: the (created_at, uid) of the last item of the page before. */
export interface JobCursor {
  createdAt: Date;
  uid: string;
}

export interface JobListQuery {
  namespace: string;
  phase?: ImageJobPhase;
  model?: string;
  limit: number;
  after?: JobCursor;
}

/** The Postgres mirror of ImageJobs. */
export interface JobRepository {
  /** Inserts the record, or replaces the stored one if it holds an older resourceVersion; true when it wrote. */
  upsert(record: JobRecord): Promise<boolean>;
  /** Marks the job gone from the apiserver; the stored record, or undefined if there is none. */
  markDeleted(uid: string, at: Date): Promise<JobRecord | undefined>;
  /**
   * Records the job as Canceled (and gone) unless it has already ended; the stored record. The
   * mirror never moves a Canceled row to another phase afterwards.
   */
  markCanceled(uid: string, at: Date, error: { reason: string; message: string }): Promise<JobRecord | undefined>;
  /**
   * After a full list: marks deleted the namespace's jobs that the list (taken at
   * `listResourceVersion`) no longer has. Records newer than the list are left alone.
   */
  markMissingDeleted(namespace: string, present: readonly string[], listResourceVersion: bigint, at: Date): Promise<JobRecord[]>;
  get(namespace: string, uid: string): Promise<JobRecord | undefined>;
  /** Newest first, by created_at then uid. */
  list(query: JobListQuery): Promise<JobRecord[]>;
}

/** What an earlier request with the same Idempotency-Key left. */
export interface IdempotencyEntry {
  requestHash: string;
  /** Null while that request is still creating its job. */
  jobUid: string | null;
}

/** Idempotency-Key claims, one per (namespace, key). */
export interface IdempotencyRepository {
  /**
   * Claims the key for a request: `claimed` when no live entry held it (none, older than
   * `ttlMs`, or one left pending longer than `pendingMs` by a request that died). Otherwise the
   * live entry, or undefined when it vanished meanwhile (its request failed): claim again.
   */
  claim(namespace: string, key: string, requestHash: string, ttlMs: number, pendingMs: number): Promise<{ claimed: true } | { claimed: false; entry?: IdempotencyEntry }>;
  /** Records the job the claim created. */
  complete(namespace: string, key: string, jobUid: string): Promise<void>;
  /** Gives up a claim whose request failed, so a retry may try again. */
  release(namespace: string, key: string, requestHash: string): Promise<void>;
  /** Deletes entries older than `olderThan`; how many. */
  prune(olderThan: Date): Promise<number>;
}

/** The apiserver, as the API's use cases need it. */
export interface Cluster {
  /** Creates the ImageJob; JobRejectedError when the apiserver refuses it as invalid. */
  createJob(job: ImageJob): Promise<ImageJob>;
  /**
   * Deletes this very ImageJob (UID precondition); the object as it was when deleted, or
   * undefined when it was gone already (or the name now holds another job).
   */
  deleteJob(name: string, uid: string): Promise<ImageJob | undefined>;
  getModel(name: string): Promise<ImageModel | undefined>;
  listModels(): Promise<ImageModel[]>;
}
