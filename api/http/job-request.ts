import { z } from "zod";
import { CLIENT_INPUT_SCHEMES, uriScheme } from "../../common/job/input-uri.js";
import { InvalidRequestError } from "../domain/errors.js";
import type { JobRequest } from "../domain/submit-job.js";

// The same rules the CRD enforces, checked here so a client hears about all of them at once.
const model = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lowercase letters, digits and '-')");
const params = z.record(z.string(), z.unknown()).refine((p) => Object.keys(p).length <= 64, "at most 64 params");
const outputFormat = z.enum(["png", "webp", "jpeg"]);
const timeoutSeconds = z.int().min(1).max(86400);
const startDeadlineSeconds = z.int().min(1);

const jsonJob = z.strictObject({
  model,
  input: z.strictObject({
    // upload: keys are handed out by this API only, through multipart uploads. The rest of the
    // URI's rules are the CRD's, whose messages the apiserver's refusal carries (422).
    uri: z.string().max(2048).refine((uri) => (CLIENT_INPUT_SCHEMES as readonly string[]).includes(uriScheme(uri) ?? ""), "must be an s3:// or https:// URI"),
  }),
  params: params.optional(),
  output: z.strictObject({ format: outputFormat.optional(), quality: z.int().min(1).max(100).optional() }).optional(),
  timeoutSeconds: timeoutSeconds.optional(),
  startDeadlineSeconds: startDeadlineSeconds.optional(),
});

const paramsField = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a JSON object" });
    return z.NEVER;
  }
}).pipe(params);

const formJob = z.object({
  model, params: paramsField.optional(), output_format: outputFormat.optional(),
  timeout_seconds: z.coerce.number().pipe(timeoutSeconds).optional(),
  start_deadline_seconds: z.coerce.number().pipe(startDeadlineSeconds).optional(),
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
  };
}

function checked<T>(result: z.ZodSafeParseResult<T>, message: string): T {
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
  throw new InvalidRequestError(message, issues);
}
