import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFile } from "node:fs/promises";
import { ApiException, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { parse } from "yaml";
import { z } from "zod";
import { API_VERSION, GROUP, IMAGEJOB_KIND, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import { MAX_PARAM_STRING_LENGTH, MAX_START_DEADLINE_SECONDS, MAX_TTL_SECONDS_AFTER_FINISHED } from "../../common/job/limits.js";
import { kubeConfig, uniqueName } from "../support/env.js";

// Arbitrary ImageJob manifests created through the real kube-apiserver with our CRD: each is
// either accepted, and then a spec our TypeScript types describe, or refused with a 422 whose
// every cause is the OpenAPI schema's or one of our CEL rules' message. Never a 500.

const RUNS = 200;
const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const namespace = uniqueName("fuzz-ij");
let celMessages: string[] = [];

beforeAll(async () => {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  const crd = parse(await readFile(new URL("../../crds/imagejobs.pixelmill.io.yaml", import.meta.url), "utf8")) as unknown;
  celMessages = collectCelMessages(crd);
  expect(celMessages.length).toBeGreaterThan(5);
});
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

/** Every `message` of an `x-kubernetes-validations` rule anywhere in the CRD. */
function collectCelMessages(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(collectCelMessages);
  if (!node || typeof node !== "object") return [];
  const own = Object.entries(node).flatMap(([k, v]) =>
    k === "x-kubernetes-validations" && Array.isArray(v) ? (v as { message?: string }[]).map((r) => r.message ?? "") : collectCelMessages(v));
  return own.filter(Boolean);
}

// The ImageJobSpec of common/crd-types.ts, with the ranges the CRD promises, as a check.
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const acceptedSpec = z.strictObject({
  model: z.string().max(63).regex(dnsLabel),
  // Absent for a text-to-image model's job (the operator checks it against the model).
  input: z.strictObject({ uri: z.string().min(1).max(2048).regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+|https:\/\/.+|upload:[A-Za-z0-9_-][A-Za-z0-9._/-]*)$/s) }).optional(),
  params: z.record(z.string(), z.union([z.number(), z.boolean(), z.string().max(MAX_PARAM_STRING_LENGTH)])).optional(),
  output: z.strictObject({ format: z.enum(["png", "webp", "jpeg"]), quality: z.int().min(1).max(100).optional() }),
  priority: z.int().min(-100).max(100),
  maxAttempts: z.int().min(1).max(10),
  // No default: absent means the API's mirror deletes the finished job (ADR 0018).
  ttlSecondsAfterFinished: z.int().min(0).max(MAX_TTL_SECONDS_AFTER_FINISHED).optional(),
  timeoutSeconds: z.int().min(1).max(86400).optional(),
  startDeadlineSeconds: z.int().min(1).max(MAX_START_DEADLINE_SECONDS).optional(),
  // The result cache (ADR 0015): on unless the job says otherwise.
  cache: z.boolean(),
});

// The OpenAPI schema's own wording (k8s.io/apiextensions-apiserver), for causes that are not CEL.
const SCHEMA_WORDING = /Invalid value|Required value|Unsupported value|Too long|Too many|must be of type|should be (greater|less) than or equal to|must have at most|must be no more than|Forbidden|Duplicate value/;

const hugeString = fc.integer({ min: 2049, max: 20_000 }).map((n) => "s3://pixelmill/" + "k".repeat(n));
const wrongType = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 10 }), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));

// What models take (common/model-params.ts): numbers, booleans and strings.
const scalarParam = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.string({ maxLength: 20 }));
const hugeParam = fc.integer({ min: MAX_PARAM_STRING_LENGTH + 1, max: 10_000 }).map((n) => "p".repeat(n));

const uri = fc.oneof(
  fc.constantFrom("s3://pixelmill/inputs/cat.png", "https://example.com/cat.png", "upload:uploads/ns/a.png"),
  fc.constantFrom("s3://ab/x", "s3://Bad_Bucket/x", "s3://pixelmill/", "https://", "https:///x", "http://example.com/x", "file:///etc/passwd", "upload:../etc/passwd", "upload:/abs", "gopher://x", ""),
  fc.webUrl({ validSchemes: ["https", "http", "ftp"], withQueryParameters: true, withFragments: true }),
  fc.string({ maxLength: 60 }).map((s) => `upload:${s}`),
  fc.string({ maxLength: 60 }).map((s) => `s3://${s}`),
  hugeString,
);

// Each field: a valid value, or anything that field might wrongly be given.
const valid = {
  model: fc.constantFrom("resize-x2", "a", "m-1", "x".repeat(63)),
  input: fc.record({ uri: fc.constantFrom("s3://pixelmill/inputs/cat.png", "https://example.com/cat.png?x=1", "upload:uploads/ns/a.png") }),
  params: fc.dictionary(fc.string({ maxLength: 12 }), scalarParam, { maxKeys: 5 }),
  output: fc.record({ format: fc.constantFrom("png", "webp", "jpeg"), quality: fc.integer({ min: 1, max: 100 }) }, { requiredKeys: [] }),
  priority: fc.integer({ min: -100, max: 100 }),
  maxAttempts: fc.integer({ min: 1, max: 10 }),
  ttlSecondsAfterFinished: fc.integer({ min: 0, max: 10 ** 6 }),
  timeoutSeconds: fc.integer({ min: 1, max: 86400 }),
  startDeadlineSeconds: fc.integer({ min: 1, max: MAX_START_DEADLINE_SECONDS }),
  // Not in the schema: pruned, never refused (the apiserver's default field validation).
  unknownField: fc.string({ maxLength: 10 }),
};
const invalid: Record<keyof typeof valid, fc.Arbitrary<unknown>> = {
  model: fc.oneof(fc.constantFrom("-bad", "Bad_Name", "x".repeat(64), ""), fc.string({ maxLength: 70 }), wrongType),
  input: fc.oneof(fc.record({ uri: fc.oneof(uri, wrongType) }, { requiredKeys: [] }), wrongType, fc.record({ uri, extra: fc.string() })),
  params: fc.oneof(
    fc.dictionary(fc.string({ maxLength: 12 }), scalarParam, { minKeys: 65, maxKeys: 70 }),
    // A value that is no scalar (an object or a list, empty or nested), or a string over the limit.
    fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), hugeParam), { minKeys: 1, maxKeys: 3 }),
    wrongType,
  ),
  output: fc.oneof(fc.record({ format: fc.oneof(fc.constantFrom("bmp", "PNG", ""), wrongType), quality: fc.oneof(fc.integer({ min: -5, max: 105 }), fc.double(), wrongType) }, { requiredKeys: [] }), wrongType),
  priority: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), wrongType),
  maxAttempts: fc.oneof(fc.integer({ min: -5, max: 50 }), wrongType),
  ttlSecondsAfterFinished: fc.oneof(fc.integer({ min: -10, max: 10 }), fc.integer({ min: MAX_TTL_SECONDS_AFTER_FINISHED - 5, max: 10 ** 9 }), fc.constant(2 ** 62), fc.constant(2 ** 64), wrongType),
  timeoutSeconds: fc.oneof(fc.integer({ min: -1, max: 100_000 }), wrongType),
  startDeadlineSeconds: fc.oneof(fc.integer({ min: -1, max: 10 ** 7 }), wrongType),
  unknownField: wrongType,
};
const FIELDS = Object.keys(valid) as (keyof typeof valid)[];
const validSpec = fc.record(valid, { requiredKeys: ["model", "input"] });
// A valid spec with one to three fields replaced by a wrong value (or removed).
const mutatedSpec = fc.tuple(validSpec, fc.uniqueArray(fc.constantFrom(...FIELDS), { minLength: 1, maxLength: 3 }), fc.boolean())
  .chain(([base, fields, remove]) => fc.tuple(...fields.map((f) => invalid[f])).map((values) => {
    const out: Record<string, unknown> = { ...base };
    fields.forEach((f, i) => {
      if (remove && (f === "model" || f === "input")) delete out[f];
      else out[f] = values[i];
    });
    return out;
  }));
const spec = fc.oneof(validSpec, mutatedSpec, fc.record(invalid, { requiredKeys: [] }));

describe("ImageJob manifests through the real apiserver, fuzzed (fast-check)", () => {
  it("are accepted as a valid spec or refused with 422 and the schema's or a CEL rule's message", async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(fc.asyncProperty(spec, async (s) => {
      const body = { apiVersion: API_VERSION, kind: IMAGEJOB_KIND, metadata: { generateName: "fuzz-" }, spec: s };
      const outcome = await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body })
        .then((created: unknown) => ({ created }), (error: unknown) => ({ error }));
      if ("created" in outcome) {
        accepted++;
        const created = outcome.created as { spec: unknown };
        const check = acceptedSpec.safeParse(created.spec);
        expect(check.success, JSON.stringify(check.error?.issues)).toBe(true);
        return;
      }
      refused++;
      const err = outcome.error;
      if (!(err instanceof ApiException)) throw err;
      expect(err.code, String(err.body).slice(0, 500)).toBe(422);
      const status = JSON.parse(String(err.body)) as { reason?: string; details?: { causes?: { message?: string; field?: string }[] } };
      expect(status.reason).toBe("Invalid");
      const causes = status.details?.causes ?? [];
      expect(causes.length).toBeGreaterThan(0);
      for (const cause of causes) {
        const message = cause.message ?? "";
        const fromCel = celMessages.some((m) => message.includes(m));
        expect(fromCel || SCHEMA_WORDING.test(message), `${cause.field}: ${message.slice(0, 300)}`).toBe(true);
      }
    }), { numRuns: RUNS, seed: 0x1a6e });
    // Both outcomes were exercised, or the property says little.
    expect(accepted).toBeGreaterThan(5);
    expect(refused).toBeGreaterThan(5);
  });
});
