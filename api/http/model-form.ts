import { z } from "zod";
import { InvalidRequestError } from "../domain/errors.js";
import type { NewModel } from "../domain/add-model.js";
import { modelName } from "./job-request.js";

// The fields of POST /v1/models. The contract is the ImageModel spec's own shape (camelCase, as in
// a manifest), checked here for its form only: the CRD's rules (kind per task, range or mean and
// std…) are the apiserver's, whose refusal the caller gets as a 422 with its message.

const range = z.strictObject({ min: z.number(), max: z.number() });

const contractInput = z.strictObject({
  name: z.string().max(256).optional().describe("input tensor name; the model's first input when absent"),
  layout: z.enum(["NCHW", "NHWC"]).optional(),
  colorOrder: z.enum(["RGB", "BGR", "GRAY"]).optional(),
  range: range.optional(),
  mean: z.array(z.number()).optional(),
  std: z.array(z.number()).optional(),
  sizeMultiple: z.int().optional(),
  maxPixels: z.int().optional(),
  tile: z.strictObject({ size: z.int(), overlap: z.int().optional() }).optional(),
});

const contractOutput = z.strictObject({
  name: z.string().max(256).optional().describe("output tensor name; the model's first output when absent"),
  kind: z.enum(["image", "mask"]),
  scale: z.int().optional(),
  range: range.optional(),
});

const contractParam = z.strictObject({
  name: z.string().max(63),
  type: z.enum(["number", "integer", "boolean", "string"]),
  description: z.string().max(1024).optional(),
  default: z.unknown().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  enum: z.array(z.string().max(256)).min(1).max(64).optional().describe("a string param's allowed values"),
});

/** The ImageModel spec's input, output, params and pools, as a manifest writes them. */
export const modelContract = z.strictObject({
  input: contractInput,
  output: contractOutput,
  params: z.array(contractParam).max(32).optional().describe("graph inputs other than the image must each be one of these"),
  pools: z.array(z.string().max(63)).max(16).optional(),
});

/** As in the ImageModel's spec.origin: exactly one of package (with version), url or generated. */
export const modelOrigin = z.strictObject({
  package: z.string().max(214).optional(),
  version: z.string().max(64).optional(),
  url: z.string().max(2048).optional(),
  generated: z.string().max(256).optional(),
});

/** A form field holding JSON, parsed and then checked with `schema`. */
function jsonField<T extends z.ZodType>(schema: T) {
  return z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be JSON" });
      return z.NEVER;
    }
  }).pipe(schema);
}

/** The fields of POST /v1/models (multipart); the files are `file`, or `model.json` and its shards. */
export const modelForm = z.strictObject({
  name: modelName.describe("the ImageModel's name, a DNS label; jobs name the model by it"),
  task: z.enum(["image-to-image", "image-to-mask"]),
  contract: jsonField(modelContract).describe("JSON: the ImageModel spec's input, output, params and pools (camelCase, as in a manifest)"),
  license: z.string().max(128).optional().describe("SPDX licence expression covering the weights"),
  origin: jsonField(modelOrigin).optional().describe("JSON: where the weights come from, as the ImageModel's spec.origin"),
});

/** The model the form's fields describe; InvalidRequestError with each issue when they do not. */
export function parseModelForm(fields: Record<string, string>): NewModel {
  const parsed = modelForm.safeParse(fields);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
    throw new InvalidRequestError("the form fields do not describe a model", issues);
  }
  const { name, task, contract, license, origin } = parsed.data;
  return { name, task, contract, ...(license ? { license } : {}), ...(origin ? { origin } : {}) };
}
