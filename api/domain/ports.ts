import type { ImageJob, ImageJobPhase, ImageModel } from "../../common/crd-types.js";
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
   * After a full list: marks deleted the namespace's jobs that the list (taken at
   * `listResourceVersion`) no longer has. Records newer than the list are left alone.
   */
  markMissingDeleted(namespace: string, present: readonly string[], listResourceVersion: bigint, at: Date): Promise<JobRecord[]>;
  get(namespace: string, uid: string): Promise<JobRecord | undefined>;
  /** Newest first, by created_at then uid. */
  list(query: JobListQuery): Promise<JobRecord[]>;
}

/** The apiserver, as the API's use cases need it. */
export interface Cluster {
  /** Creates the ImageJob; JobRejectedError when the apiserver refuses it as invalid. */
  createJob(job: ImageJob): Promise<ImageJob>;
  getModel(name: string): Promise<ImageModel | undefined>;
  listModels(): Promise<ImageModel[]>;
}
