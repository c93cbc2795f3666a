import { z } from "zod";
import type { ImageModelSpec } from "../common/crd-types.js";
import { JobFailure } from "../common/errors.js";
import { batchItemOutputBase } from "../common/batch.js";
import { outputsPrefix } from "../common/job/input-access.js";
import type { QueueJobData } from "../common/queue.js";

/**
 * The operator writes the job data, but it crosses a process boundary (and versions of the
 * code): check the fields that name things (keys, files) before trusting them.
 */
const schema = z.object({
  uid: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  namespace: z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  name: z.string().max(253).regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/),
  model: z.string().min(1),
  modelSpec: z.custom<ImageModelSpec>((v) => typeof v === "object" && v !== null, "must be an object"),
  modelVersion: z.string(),
  inputUri: z.string().min(1).optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  output: z.object({ format: z.enum(["png", "webp", "jpeg"]), quality: z.number().int().min(1).max(100).optional() }),
  timeoutSeconds: z.number().positive().optional(),
  inputBuckets: z.array(z.string().max(63)).max(1000).optional(),
  cache: z.boolean().optional(),
  batch: z.object({ uid: z.string().regex(/^[A-Za-z0-9-]{1,64}$/), index: z.number().int().min(0), total: z.number().int().min(1) }).optional(),
});

export function parseJobData(data: unknown): QueueJobData {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "data"}: ${i.message}`).join("; ");
  throw new JobFailure("InvalidParams", `malformed queue job: ${issues}`);
}

const EXTENSIONS = { png: "png", webp: "webp", jpeg: "jpg" } as const;

/**
 * Where an attempt's output goes: one key per attempt, so a retry never overwrites a finished one.
 * A model whose output is a document (kind json) writes `.json` whatever image format the job named.
 */
export function outputKey(job: Pick<QueueJobData, "namespace" | "name" | "uid" | "output" | "modelSpec" | "batch">, attempt: number): string {
  const extension = job.modelSpec.output?.kind === "json" ? "json" : EXTENSIONS[job.output.format];
  // A batch's items go under the batch's own folder, beside its manifest (common/batch.ts).
  if (job.batch) return `${batchItemOutputBase(job.namespace, job.name, job.uid, job.batch.index, attempt)}.${extension}`;
  return `${outputsPrefix(job.namespace)}${job.name}/${job.uid}-${attempt}.${extension}`;
}
