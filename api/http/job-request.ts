import { z } from "zod";
import { CLIENT_INPUT_SCHEMES, parseInputUri, uriScheme } from "../../common/job/input-uri.js";
import {
  MAX_PARAM_NAME_LENGTH, MAX_PARAM_STRING_LENGTH, MAX_PARAMS, MAX_PARAMS_BYTES, MAX_START_DEADLINE_SECONDS, MAX_TIMEOUT_SECONDS,
} from "../../common/job/limits.js";
import { DEFAULT_BATCH_MAX_ITEMS } from "../../common/batch.js";
import { WEBHOOK_EVENTS } from "../../common/job/webhook-events.js";
import { InvalidRequestError } from "../domain/errors.js";
import type { JobRequest } from "../domain/submit-job.js";

// The same rules the CRD enforces, checked here so a client hears about all of them at once.
/** An ImageModel's name; also what `GET /v1/jobs?model=` takes. */
export const modelName = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lowercase letters, digits and '-')");
const model = modelName;

/**
 * What is wrong with one param value, if anything. Models declare only number, integer, boolean
 * and string params (common/model-params.ts), so anything else is refused here, by a check that
 * looks at the value alone: a body nested 100,000 deep is refused before anything recurses over
 * it (the request hash, the apiserver client's JSON). Strings are bounded, and free of NUL, which
 * Postgres cannot store.
 */
function paramValueProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : "must be a finite number";
    case "string":
      if (value.length > MAX_PARAM_STRING_LENGTH) return `must be at most ${MAX_PARAM_STRING_LENGTH} characters`;
      return value.includes("\u0000") ? "must not contain NUL characters" : undefined;
    default:
      return "must be a number, a boolean or a string: models take no nested, list or null params";
  }
}

const paramValue = z.unknown().superRefine((value, ctx) => {
  const problem = paramValueProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Bytes of the params as JSON, counting scalar values only (never recursing into the rest). */
function paramsBytes(p: Record<string, unknown>): number {
  let bytes = 2;
  for (const [name, value] of Object.entries(p)) {
    const text = typeof value === "object" || value === undefined ? "null" : JSON.stringify(value);
    bytes += Buffer.byteLength(JSON.stringify(name)) + 1 + Buffer.byteLength(text) + 1;
  }
  return bytes;
}

const params = z.record(z.string(), paramValue).superRefine((p, ctx) => {
  const names = Object.keys(p);
  for (const name of names) {
    if (name.length > MAX_PARAM_NAME_LENGTH) ctx.addIssue({ code: "custom", path: [name], message: `a param name is at most ${MAX_PARAM_NAME_LENGTH} characters` });
  }
  if (names.length > MAX_PARAMS) ctx.addIssue({ code: "custom", message: `at most ${MAX_PARAMS} params` });
  else if (paramsBytes(p) > MAX_PARAMS_BYTES) ctx.addIssue({ code: "custom", message: `at most ${MAX_PARAMS_BYTES} bytes of params as JSON` });
});
const outputFormat = z.enum(["png", "webp", "jpeg"]);
const timeoutSeconds = z.int().min(1).max(MAX_TIMEOUT_SECONDS, `at most ${MAX_TIMEOUT_SECONDS} (1 day)`);
const startDeadlineSeconds = z.int().min(1).max(MAX_START_DEADLINE_SECONDS, `at most ${MAX_START_DEADLINE_SECONDS} (7 days)`);
// Where the job's events are POSTed (docs/webhooks.md); the address policy is the submit path's to check.
const webhook = z.string().max(2048).refine((u) => /^https?:\/\//.test(u) && URL.canParse(u), "must be an https:// URL")
  .describe("an https:// URL the job's events are POSTed to, signed per Standard Webhooks with the tenant's secret (docs/webhooks.md)");
const webhookEvents = z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length)
  .refine((events) => new Set(events).size === events.length, "must not repeat an event")
  .describe("the events sent to `webhook`; default queued, running, completed (progress is coalesced)");

const clientUri = z.string().max(2048).refine((uri) => (CLIENT_INPUT_SCHEMES as readonly string[]).includes(uriScheme(uri) ?? ""), "must be an upload:, s3:// or https:// URI");

/**
 * spec.batch.inputs as JSON, in bytes: the whole ImageJob must stay well under etcd's 1.5 MiB
 * object limit (the CRD's 10,000 items × 2,048 characters would not); larger sets go by prefix.
 */
export const MAX_BATCH_INPUTS_BYTES = 1024 * 1024;

const batch = z.strictObject({
  // Each item is checked as a job's input is (here its scheme; parseInputUri in batchItemIssues), the issue naming its index.
  inputs: z.array(z.string()).min(1).max(DEFAULT_BATCH_MAX_ITEMS, `at most ${DEFAULT_BATCH_MAX_ITEMS} inputs; more go by prefix`).optional()
    .describe(`the input URIs (upload:, s3:// or https://), 1 to ${DEFAULT_BATCH_MAX_ITEMS}, at most ${MAX_BATCH_INPUTS_BYTES} bytes as JSON`),
  prefix: z.string().min(1).max(1024).regex(/\/$/, "must end in '/'").optional()
    .describe("every object under s3://<bucket>/<path>/ or upload:<path>/ (your uploads: upload:uploads/<namespace>/...) is an input, listed by the operator"),
  glob: z.string().min(1).max(256).optional().describe("with prefix: which keys under it to take (picomatch syntax, relative to the prefix); default **/*"),
}).superRefine((b, ctx) => {
  if ((b.inputs === undefined) === (b.prefix === undefined)) ctx.addIssue({ code: "custom", message: "needs exactly one of inputs or prefix" });
  if (b.glob !== undefined && b.prefix === undefined) ctx.addIssue({ code: "custom", path: ["glob"], message: "filters a prefix; it needs prefix" });
  if (b.prefix !== undefined && !["upload", "s3"].includes(uriScheme(b.prefix) ?? "")) ctx.addIssue({ code: "custom", path: ["prefix"], message: "must be an upload: or s3:// prefix" });
  if (!b.inputs) return;
  for (const [index, issue] of batchItemIssues(b.inputs)) ctx.addIssue({ code: "custom", path: ["inputs", index], message: issue });
  if (Buffer.byteLength(JSON.stringify(b.inputs)) > MAX_BATCH_INPUTS_BYTES) {
    ctx.addIssue({ code: "custom", path: ["inputs"], message: `at most ${MAX_BATCH_INPUTS_BYTES} bytes of inputs as JSON; submit a larger set by prefix` });
  }
}).describe("many inputs through the same model and params, as one job: exactly one of inputs or prefix; instead of input");

/** What is wrong with each batch item, by index: the first 20 found (a list of 10,000 bad URIs needs no 10,000 issues). */
function batchItemIssues(inputs: readonly string[]): Array<[number, string]> {
  const issues: Array<[number, string]> = [];
  for (let i = 0; i < inputs.length && issues.length < 20; i++) {
    const uri = inputs[i]!;
    if (!(CLIENT_INPUT_SCHEMES as readonly string[]).includes(uriScheme(uri) ?? "")) issues.push([i, `item ${i}: must be an upload:, s3:// or https:// URI`]);
    else {
      const parsed = parseInputUri(uri);
      if ("problem" in parsed) issues.push([i, `item ${i}: ${parsed.problem}`]);
    }
  }
  return issues;
}

export const jsonJob = z.strictObject({
  model,
  input: z.strictObject({
    // upload: keys come from POST /v1/uploads (the namespace's own only). The rest of the
    // URI's rules are the CRD's, whose messages the apiserver's refusal carries (422).
    uri: clientUri,
  }).optional().describe("the input image; left out for a text-to-image model, which makes its image from params (a prompt), and for a batch"),
  batch: batch.optional(),
  params: params.optional(),
  output: z.strictObject({ format: outputFormat.optional(), quality: z.int().min(1).max(100).optional() }).optional(),
  timeoutSeconds: timeoutSeconds.optional(),
  startDeadlineSeconds: startDeadlineSeconds.optional(),
  cache: z.boolean().optional().describe("false: run the model even when an equal earlier job's output could be reused"),
  webhook: webhook.optional(),
  webhookEvents: webhookEvents.optional(),
}).superRefine((job, ctx) => {
  if (job.input && job.batch) ctx.addIssue({ code: "custom", path: ["batch"], message: "input and batch are mutually exclusive: one image, or a batch of many" });
  if (job.webhookEvents && !job.webhook) ctx.addIssue({ code: "custom", path: ["webhookEvents"], message: "webhookEvents needs a webhook" });
});

const paramsField = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a JSON object" });
    return z.NEVER;
  }
}).pipe(params);

export const formJob = z.object({
  model, params: paramsField.optional(), output_format: outputFormat.optional(),
  timeout_seconds: z.coerce.number().pipe(timeoutSeconds).optional(),
  start_deadline_seconds: z.coerce.number().pipe(startDeadlineSeconds).optional(),
  cache: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
  webhook: webhook.optional(),
  webhook_events: z.string().transform((v) => v.split(",").map((e) => e.trim())).pipe(webhookEvents).optional().describe("comma-separated: queued, running, completed, progress"),
}).refine((job) => job.webhook_events === undefined || job.webhook !== undefined, { path: ["webhook_events"], message: "webhook_events needs a webhook" });

/** The job a JSON body asks for; InvalidRequestError with the issues when it is not one. */
export function parseJsonJob(body: unknown): JobRequest {
  const { webhook, webhookEvents, ...job } = checked(jsonJob.safeParse(body), "the request body is not a valid job");
  return { ...job, ...(webhook ? { webhook: { url: webhook, ...(webhookEvents ? { events: webhookEvents } : {}) } } : {}) };
}

/** The job the fields of a multipart form ask for: its input the one upload, or a batch of several. */
export function parseFormJob(fields: Record<string, string>, inputs: { uri: string } | { batch: string[] }): JobRequest {
  if ("batch" in fields) {
    throw new InvalidRequestError("a multipart submit makes a batch of its image files (several `image` parts); for inputs already stored, submit application/json with batch.inputs (upload:, s3:// or https:// URIs) or batch.prefix");
  }
  const form = checked(formJob.safeParse(fields), "the form fields are not a valid job");
  return {
    model: form.model,
    ...("uri" in inputs ? { input: { uri: inputs.uri } } : { batch: { inputs: inputs.batch } }),
    ...(form.params ? { params: form.params } : {}),
    ...(form.output_format ? { output: { format: form.output_format } } : {}),
    ...(form.timeout_seconds ? { timeoutSeconds: form.timeout_seconds } : {}),
    ...(form.start_deadline_seconds ? { startDeadlineSeconds: form.start_deadline_seconds } : {}),
    ...(form.cache === false ? { cache: false } : {}),
    ...(form.webhook ? { webhook: { url: form.webhook, ...(form.webhook_events ? { events: form.webhook_events } : {}) } } : {}),
  };
}

function checked<T>(result: z.ZodSafeParseResult<T>, message: string): T {
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
  throw new InvalidRequestError(message, issues);
}
