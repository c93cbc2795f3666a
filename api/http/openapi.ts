import { z } from "zod";
import { SCOPES } from "../domain/principal.js";
import { formJob, jsonJob } from "./job-request.js";
import { OPERATIONS, type Operation, type ResponseSpec } from "./openapi-routes.js";
import { modelForm } from "./model-form.js";
import { listQuery } from "./routes/jobs.js";
import { itemListQuery } from "./routes/batch-items.js";
import { newKey, newTenant, tenantLimitsPatch } from "./routes/tenants.js";
import { usageQuery } from "./routes/usage.js";
import { newUpload } from "./routes/uploads.js";
import { webhookDeliveryListSchema, webhookDeliveryQuery, webhookEndpoint, webhookSecretsSchema } from "./webhook-schemas.js";
import {
  batchItemListSchema, batchItemSchema, createdKeySchema, healthSchema, jobBatchSchema, jobListSchema, jobOutputSchema, jobStatusSchema, jobSummarySchema, jobUrlsSchema, jobViewSchema, keyListSchema, keySchema,
  meSchema, modelListSchema, poolListSchema, poolSchema, poolSampleSchema, modelSchema, problemSchema, readinessSchema, storedUploadSchema, tenantListSchema, tenantSchema, uploadSchema, usageSchema, wsTicketSchema,
} from "./schemas.js";

/**
 * The OpenAPI 3.1 document of the HTTP API (GET /openapi.json), generated from the zod schemas
 * that validate its requests (job-request.ts, the routes) and shape its answers (schemas.ts), so
 * the document cannot drift from what the code checks. JSON Schema 2020-12 is OpenAPI 3.1's own.
 */

type JsonSchema = Record<string, unknown>;

const RESPONSES = {
  JobStatus: jobStatusSchema, JobUrls: jobUrlsSchema, JobOutput: jobOutputSchema, JobSummary: jobSummarySchema, JobView: jobViewSchema, JobList: jobListSchema,
  Model: modelSchema, ModelList: modelListSchema, Tenant: tenantSchema, TenantList: tenantListSchema, Key: keySchema, CreatedKey: createdKeySchema, KeyList: keyListSchema,
  JobBatch: jobBatchSchema, BatchItem: batchItemSchema, BatchItemList: batchItemListSchema,
  Usage: usageSchema, Problem: problemSchema, Health: healthSchema, Readiness: readinessSchema, Upload: uploadSchema, StoredUpload: storedUploadSchema, WsTicket: wsTicketSchema,
  WebhookDeliveryList: webhookDeliveryListSchema, WebhookSecrets: webhookSecretsSchema, Me: meSchema,
  Pool: poolSchema, PoolList: poolListSchema, PoolSample: poolSampleSchema,
};
/** Read as their input (what a client sends): coercions and transforms as the wire sees them. */
const REQUESTS = { JobRequest: jsonJob, JobForm: formJob, ModelForm: modelForm, JobListQuery: listQuery, BatchItemListQuery: itemListQuery, UsageQuery: usageQuery, NewTenant: newTenant, TenantLimitsPatch: tenantLimitsPatch, NewKey: newKey, NewUpload: newUpload,
  WebhookDeliveryQuery: webhookDeliveryQuery, WebhookEndpoint: webhookEndpoint };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The components of a set of named zod schemas, each referring to the others by $ref. */
function components(named: Record<string, z.ZodType>, io: "input" | "output"): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, target: "draft-2020-12", unrepresentable: "any", uri: (id) => ref(id).$ref });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => {
    const { $schema: _, $id: __, ...rest } = s as JsonSchema;
    return [id, rest];
  }));
}

function content(spec: ResponseSpec): Record<string, unknown> {
  if (spec.schema) return { "application/json": { schema: ref(spec.schema) } };
  if (spec.contentType === "text/event-stream") return { [spec.contentType]: { schema: { type: "string", description: "event: status, data: a JobView as JSON" } } };
  return { [spec.contentType ?? "application/json"]: { schema: spec.contentType === "application/octet-stream" ? { type: "string", contentMediaType: "application/octet-stream" } : {} } };
}

function operation(op: Operation, requests: Record<string, JsonSchema>): JsonSchema {
  const parameters: unknown[] = Object.entries(op.pathParams ?? {}).map(([name, description]) => ({ name, in: "path", required: true, description, schema: { type: "string" } }));
  if (op.query) {
    const query = requests[op.query] as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) parameters.push({ name, in: "query", required: query.required?.includes(name) ?? false, schema });
  }
  if (op.operationId === "submitJob") {
    parameters.push({ name: "Idempotency-Key", in: "header", required: false, description: "1-255 printable ASCII characters; a retry with the same key and request answers with the same job", schema: { type: "string", minLength: 1, maxLength: 255 } });
  }
  if (op.operationId === "getFile" || op.operationId === "putUpload") {
    for (const name of op.operationId === "getFile" ? ["expires", "sig"] : ["expires", "sig", "max"]) parameters.push({ name, in: "query", required: true, schema: { type: "string" } });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    const headers = Object.fromEntries(Object.entries(spec.headers ?? {}).map(([name, description]) => [name, { description, schema: { type: "string" } }]));
    responses[status] = { description: spec.description, content: content(spec), ...(spec.headers ? { headers } : {}) };
  }
  for (const status of op.problems) responses[String(status)] = { $ref: `#/components/responses/Problem${status}` };
  const out: JsonSchema = {
    operationId: op.operationId,
    summary: op.summary,
    ...(parameters.length ? { parameters } : {}),
    responses,
    security: op.scope ? [{ bearer: [op.scope] }] : op.anyKey ? [{ bearer: [] }] : [],
  };
  if (op.scope) out["x-required-scope"] = op.scope;
  if (op.body) {
    const bodies: Record<string, unknown> = {};
    if (op.body.json) bodies["application/json"] = { schema: ref(op.body.json) };
    if (op.body.image) bodies["image/*"] = { schema: { type: "string", contentMediaType: "application/octet-stream", description: op.body.image } };
    if (op.body.multipart) {
      const form = requests[op.body.multipart] as { properties?: Record<string, unknown>; required?: string[] };
      const files = op.body.files ?? { image: "the image (PNG, JPEG, WebP, GIF, TIFF or AVIF); its part's filename becomes the job's input.filename" };
      const fileProps = Object.fromEntries(Object.entries(files).map(([name, description]) => [name, { type: "string", contentMediaType: "application/octet-stream", description }]));
      bodies["multipart/form-data"] = {
        schema: {
          type: "object",
          properties: { ...fileProps, ...form.properties },
          required: [...(op.body.files ? op.body.requiredFiles ?? [] : ["image"]), ...(form.required ?? [])],
        },
      };
    }
    out.requestBody = { required: true, content: bodies };
  }
  return out;
}

const PROBLEM_STATUSES: Record<number, string> = {
  400: "malformed or over a limit (`errors` lists each issue)", 401: "no valid API key (WWW-Authenticate: Bearer)", 403: "the key lacks the route's scope (`scope`), or the link is not valid",
  404: "unknown (or another tenant's)", 409: "a conflict: a finished job, a taken name, a request with this Idempotency-Key in progress, the platform tenant disabled, a batch route of a single job, a batch's manifest before it finished",
  410: "gone: a job's output (and upload), or a batch's item outputs and manifest, were deleted by output retention",
  413: "too large (`limit`)", 415: "not a content type (or image) taken here", 422: "valid JSON but not a job that can run (unknown model, params, input)",
  429: "the key's request rate or a tenant cap (Retry-After)", 500: "the server's fault; logged", 503: "a dependency is down; nothing was accepted (Retry-After)",
};

/** The document; `serverUrl` (PUBLIC_URL) goes into `servers` when given. */
export function openApiDocument(opts: { serverUrl?: string; version?: string } = {}): JsonSchema {
  const requests = components(REQUESTS, "input");
  const { JobListQuery: _, UsageQuery: __, WebhookDeliveryQuery: ___, BatchItemListQuery: ____, ...requestBodies } = requests;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operation(op, requests);
  const responses = Object.fromEntries(Object.entries(PROBLEM_STATUSES).map(([status, description]) => [
    `Problem${status}`, { description, content: { "application/problem+json": { schema: ref("Problem") } } },
  ]));
  return {
    openapi: "3.1.1",
    info: {
      title: "Pixelmill API", version: opts.version ?? "0.1.0",
      description: "Asynchronous AI image processing. Every error is application/problem+json (RFC 9457).",
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    paths,
    components: {
      schemas: { ...components(RESPONSES, "output"), ...requestBodies },
      responses,
      securitySchemes: {
        bearer: {
          type: "http", scheme: "bearer",
          description: `An API key (pm_live_… or pm_test_…). Scopes: ${SCOPES.join(", ")}; admin implies every scope. Each operation's security lists the scope it needs.`,
        },
      },
    },
  };
}
