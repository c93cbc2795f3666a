import type { ImageJob, ImageJobOutput } from "../../common/crd-types.js";

/**
 * A batch job's item counts: status.batch as the operator last wrote it (a few times per batch,
 * never per item). `total` is null for a prefix batch until the operator has listed it.
 */
export interface BatchCounts {
  total: number | null;
  succeeded: number;
  failed: number;
  running: number;
  canceled: number;
}
import { INPUT_FILENAME_ANNOTATION, sanitizeFilename } from "./input-filename.js";
import type { ImageJobPhase } from "../../common/job/phases.js";
import { DEFAULT_WEBHOOK_EVENTS, type WebhookEvent } from "../../common/job/webhook-events.js";

/** One job as the API keeps it: a row of the Postgres mirror of an ImageJob. */
export interface JobRecord {
  uid: string;
  namespace: string;
  name: string;
  model: string;
  /** Null for a text-to-image job, which has no input image. */
  inputUri: string | null;
  /** The uploaded file's name as the client sent it (its ImageJob's INPUT_FILENAME_ANNOTATION); absent or null when unknown, and for a batch. */
  inputFilename?: string | null;
  params: Record<string, unknown> | null;
  phase: ImageJobPhase;
  attempts: number;
  createdAt: Date;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  output: ImageJobOutput | null;
  error: { reason: string; message: string } | null;
  /** status.output.usage: run time of the attempt that produced the result, and that × its pool's GPUs (null before, or from older workers). */
  runSeconds: number | null;
  gpuSeconds: number | null;
  /** metadata.resourceVersion of the state this record holds; newer states replace older ones only. */
  resourceVersion: bigint;
  /** When the ImageJob was seen gone from the apiserver; the record stays as history. */
  deletedAt: Date | null;
  /** Absent or null for a single job. */
  batch?: BatchCounts | null;
  /** When the retention sweeper deleted the job's output (and upload); absent or null while kept. */
  outputExpiredAt?: Date | null;
  /** spec.webhook: where the job's events go, and which; absent or null without one. */
  webhook?: { url: string; events: readonly WebhookEvent[] } | null;
}

// Watch events carry JSON (strings); the typed client's objects may carry Dates.
const time = (value: string | Date | undefined): Date | null => (value === undefined ? null : new Date(value));

/** The record of an ImageJob as the apiserver returned it (create, list or watch). */
export function toJobRecord(job: ImageJob, deletedAt: Date | null = null): JobRecord {
  const meta = job.metadata;
  if (!meta.uid || !meta.name || !meta.namespace || !meta.resourceVersion || !meta.creationTimestamp) {
    throw new Error("an ImageJob from the apiserver lacks uid, name, namespace, resourceVersion or creationTimestamp");
  }
  const status = job.status ?? {};
  return {
    uid: meta.uid,
    namespace: meta.namespace,
    name: meta.name,
    model: job.spec.model,
    inputUri: job.spec.input?.uri ?? null,
    params: job.spec.params ?? null,
    phase: status.phase ?? "Pending",
    attempts: status.attempts ?? 0,
    createdAt: new Date(meta.creationTimestamp),
    queuedAt: time(status.queuedAt),
    startedAt: time(status.startedAt),
    finishedAt: time(status.finishedAt),
    output: status.output ?? null,
    error: status.reason ? { reason: status.reason, message: status.message ?? "" } : null,
    runSeconds: status.output?.usage?.runSeconds ?? null,
    gpuSeconds: status.output?.usage?.gpuSeconds ?? null,
    resourceVersion: BigInt(meta.resourceVersion),
    deletedAt,
    batch: batchCounts(job),
    ...inputFilename(job),
    ...(job.spec.webhook ? { webhook: { url: job.spec.webhook.url, events: job.spec.webhook.events ?? DEFAULT_WEBHOOK_EVENTS } } : {}),
  };
}

/** The annotated file name of a single job's input, sanitized again: a kubectl-applied ImageJob may carry any. */
function inputFilename(job: ImageJob): { inputFilename?: string } {
  const name = job.spec.batch ? undefined : sanitizeFilename(job.metadata.annotations?.[INPUT_FILENAME_ANNOTATION]);
  return name ? { inputFilename: name } : {};
}

/** The counts of a batch job: status.batch once written, else none done of its list (or of a prefix not listed yet). */
function batchCounts(job: ImageJob): BatchCounts | null {
  if (!job.spec.batch) return null;
  const counts = job.status?.batch;
  if (!counts) return { total: job.spec.batch.inputs?.length ?? null, succeeded: 0, failed: 0, running: 0, canceled: 0 };
  return { total: counts.total, succeeded: counts.succeeded, failed: counts.failed, running: counts.running, canceled: counts.canceled ?? 0 };
}

/** Why a job deleted before it finished shows as Canceled. */
export const CANCELED_ERROR = { reason: "Canceled", message: "deleted before it finished" } as const;

/**
 * Why a job whose ImageJob vanished while no API watched shows as Canceled: deleted (kubectl
 * delete, or its TTL after an end nobody saw) before the mirror saw it finish.
 */
export const UNSEEN_END = {
  reason: "Canceled",
  message: "its ImageJob was deleted while the API was not watching, before the API saw it finish; if it finished meanwhile, its result is not known here",
} as const;

/** The record of a job deleted before it finished: history shows it Canceled. */
export function canceledRecord(r: JobRecord, at: Date): JobRecord {
  return { ...r, phase: "Canceled", error: { ...CANCELED_ERROR }, finishedAt: r.finishedAt ?? at, deletedAt: r.deletedAt ?? at };
}
