import type { BatchItemRef } from "./batch.js";
import type { ImageJobOutput, ImageModelSpec, OutputFormat } from "./crd-types.js";

/**
 * The contract between the operator (producer), the workers (consumers) and back.
 *
 * - One BullMQ queue per model, named `model-<model>`, under the BullMQ prefix QUEUE_PREFIX.
 * - Queue job id = ImageJob UID, so enqueueing the same ImageJob twice is a no-op.
 * - The worker's return value is the job's output; its failure reason is the job's error. The
 *   BullMQ job state is what the operator reads when it reconciles an ImageJob.
 * - Workers append `{ uid, namespace, name }` to the Redis stream NOTIFY_STREAM when a job starts,
 *   ends or fails, so the operator reconciles at once instead of on its next resync. A lost
 *   notification costs latency, not correctness: the operator resyncs every job periodically.
 */
export function queueName(model: string): string {
  return `model-${model}`;
}

/** The BullMQ keys of a model's queue that readers without a Queue object use (the API's queue positions). */
export type QueueKeyType = "wait" | "prioritized" | "completed" | "failed";

/**
 * A key of the model's queue as BullMQ names it (`Queue.toKey`): `<prefix>:model-<model>:<type>`.
 * `wait` is the list of jobs about to be taken; `prioritized` the sorted set of the waiting ones,
 * scored priority × 2^32 + arrival (every job is enqueued with a priority); `completed` and
 * `failed` sorted sets scored by when each job ended (kept a day, JobQueue's removeOn*).
 */
export function queueKey(prefix: string, model: string, type: QueueKeyType): string {
  return `${prefix}:${queueName(model)}:${type}`;
}

export const NOTIFY_STREAM = "notify";
/** Bound on the notification stream; consumers only need the recent tail. */
export const NOTIFY_STREAM_MAXLEN = 10_000;

/**
 * Canceling a job (its ImageJob deleted before it finished): the operator removes a waiting job
 * from its queue; for one a worker may hold, it sets the marker key `<prefix>:canceled:<uid>`
 * (kept CANCEL_MARKER_TTL_SECONDS) and publishes the UID on `<prefix>:cancel`. A worker aborts
 * a running attempt on the message, and checks the marker when an attempt starts and before it
 * writes output, so a worker that missed the message (restarting, or not yet holding the job)
 * still honours it.
 */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}

export function cancelMarkerKey(prefix: string, uid: string): string {
  return `${prefix}:canceled:${uid}`;
}

/** As long as a queue job is kept after it ends (JobQueue's removeOnComplete/removeOnFail). */
export const CANCEL_MARKER_TTL_SECONDS = 24 * 3600;

export interface QueueJobData {
  uid: string;
  namespace: string;
  name: string;
  model: string;
  /**
   * The ImageModel's spec when the job was enqueued, so workers need no access to the
   * Kubernetes API; `modelVersion` (its resourceVersion) keys their session cache.
   */
  modelSpec: ImageModelSpec;
  modelVersion: string;
  /** Absent for a text-to-image model. */
  inputUri?: string;
  params: Record<string, unknown>;
  output: { format: OutputFormat; quality?: number };
  /** Run-time limit of one attempt. */
  timeoutSeconds?: number;
  /**
   * The buckets the job's namespace is granted (its `pixelmill.io/input-buckets` annotation,
   * common/job/input-grants.ts) when the job was enqueued: workers refuse an `s3://` input in any
   * other. Absent from older operators' jobs, which INPUT_BUCKETS alone decides.
   */
  inputBuckets?: string[];
  /** The ImageJob's spec.cache: false skips the result cache's lookup (ADR 0015). Absent: true. */
  cache?: boolean;
  /** An item of a batch ImageJob (common/batch.ts): `inputUri` is the item's; the queue job id is `${uid}-${index}`. */
  batch?: BatchItemRef;
  /** The id of the API request that created the ImageJob (common/request-id.ts), for the worker's logs; absent for kubectl's jobs. */
  requestId?: string;
}

/** What a worker returns for a job that succeeded: the ImageJob's status.output. */
export type QueueJobResult = Required<Pick<ImageJobOutput, "uri" | "contentType" | "width" | "height" | "bytes">> & Pick<ImageJobOutput, "notes" | "cached"> & Required<Pick<ImageJobOutput, "usage">>;

export interface JobNotification {
  uid: string;
  namespace: string;
  name: string;
  /** The job's model: the operator re-plans the pools serving it (absent from older workers). */
  model?: string;
  /** Set for an item of a batch: the operator debounces these per batch (BATCH_STATUS_INTERVAL_MS). */
  batchIndex?: number;
}

