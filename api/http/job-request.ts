import { z } from "zod";
import { CLIENT_INPUT_SCHEMES, uriScheme } from "../../common/job/input-uri.js";
import {
  MAX_PARAM_NAME_LENGTH, MAX_PARAM_STRING_LENGTH, MAX_PARAMS, MAX_PARAMS_BYTES, MAX_START_DEADLINE_SECONDS, MAX_TIMEOUT_SECONDS,
} from "../../common/job/limits.js";
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

export const jsonJob = z.strictObject({
  model,
  input: z.strictObject({
    // upload: keys come from POST /v1/uploads (the namespace's own only). The rest of the
    // URI's rules are the CRD's, whose messages the apiserver's refusal carries (422).
    uri: z.string().max(2048).refine((uri) => (CLIENT_INPUT_SCHEMES as readonly string[]).includes(uriScheme(uri) ?? ""), "must be an upload:, s3:// or https:// URI"),
  }).optional().describe("the input image; left out for a text-to-image model, which makes its image from params (a prompt)"),
  params: params.optional(),
  output: z.strictObject({ format: outputFormat.optional(), quality: z.int().min(1).max(100).optional() }).optional(),
  timeoutSeconds: timeoutSeconds.optional(),
  startDeadlineSeconds: startDeadlineSeconds.optional(),
  cache: z.boolean().optional().describe("false: run the model even when an equal earlier job's output could be reused"),
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
});

/** The job a JSON body asks for; InvalidRequestError with the issues when it is not one. */
export function parseJsonJob(body: unknown): JobRequest {
  return checked(jsonJob.safeParse(body), "the request body is not a valid job");
}

/** The job the fields of a multipart form ask for, its input being `inputUri` (the upload). */
export function parseFormJob(fields: Record<string, string>, inputUri: string): JobRequest {
  const form = checked(formJob.safeParse(fields), "the form fields are not a valid job");
  return {
    model: form.model,
    input: { uri: inputUri },
    ...(form.params ? { params: form.params } : {}),
    ...(form.output_format ? { output: { format: form.output_format } } : {}),
    ...(form.timeout_seconds ? { timeoutSeconds: form.timeout_seconds } : {}),
    ...(form.start_deadline_seconds ? { startDeadlineSeconds: form.start_deadline_seconds } : {}),
    ...(form.cache === false ? { cache: false } : {}),
  };
}

function checked<T>(result: z.ZodSafeParseResult<T>, message: string): T {
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
  throw new InvalidRequestError(message, issues);
}
