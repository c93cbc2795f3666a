import type { Scope } from "../domain/principal.js";
import { WEBHOOK_OPERATIONS } from "./openapi-webhook-routes.js";

// The API's operations as the OpenAPI document (openapi.ts) describes them. openapi.test.ts walks
// the express app's router and checks that this table names every route it registers, and no more.

/** A response: a schema of components.schemas (JSON), or another content type described in words. */
export interface ResponseSpec {
  description: string;
  schema?: string;
  /** Other than application/json, e.g. text/event-stream. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Operation {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI's form: `{id}` for express's `:id`. */
  path: string;
  operationId: string;
  summary: string;
  /** The scope the Bearer key needs; none: no key needed, unless `anyKey`. */
  scope?: Scope;
  /** A key is needed, any valid one (no particular scope). */
  anyKey?: true;
  /** Path parameters, described. */
  pathParams?: Record<string, string>;
  /** A request schema (openapi.ts REQUESTS) whose properties are the query parameters. */
  query?: string;
  /**
   * Request bodies by content type, each a request schema's name. A multipart body's file parts
   * are `files` (name → description; those in `requiredFiles` must be sent); default: `image`.
   */
  body?: { json?: string; multipart?: string; files?: Record<string, string>; requiredFiles?: string[]; image?: string };
  responses: Record<number, ResponseSpec>;
  /** The error statuses, each answered with application/problem+json. */
  problems: number[];
}

const job = { id: "the job's id (its ImageJob's UID)" };
/** Every keyed route may answer these: no valid key, a key without the scope, the key's request rate, a dependency down, our fault. */
const KEYED = [401, 403, 429, 500, 503];
const LOCATION = { Location: "the job's path, /v1/jobs/{id}" };
const FILE_HEADERS = { "Content-Disposition": "attachment; filename=\"...\" (and filename*=UTF-8''... for a name outside ISO-8859-1)", "Cache-Control": "private, no-store" };

export const OPERATIONS: Operation[] = [
  {
    method: "post", path: "/v1/jobs", operationId: "submitJob", scope: "jobs:write",
    summary: "Submit a job: an uploaded image (multipart) or an input URI (JSON), or a batch of many inputs (JSON `batch`: a list or a prefix; or a form of 2 to 100 `image` files). Optional Idempotency-Key header.",
    body: { json: "JobRequest", multipart: "JobForm" },
    responses: { 202: { description: "accepted (or replayed: Idempotent-Replayed: true)", schema: "JobSummary", headers: LOCATION } },
    problems: [400, 409, 413, 415, 422, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs", operationId: "listJobs", scope: "jobs:read", summary: "The tenant's jobs, newest first.",
    query: "JobListQuery", responses: { 200: { description: "a page of jobs", schema: "JobList" } }, problems: [400, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs/{id}", operationId: "getJob", scope: "jobs:read", summary: "A job: status, attempts, timestamps, error, output.",
    pathParams: job, responses: { 200: { description: "the job", schema: "JobView" } }, problems: [404, ...KEYED],
  },
  {
    method: "delete", path: "/v1/jobs/{id}", operationId: "cancelJob", scope: "jobs:write", summary: "Cancel a pending, queued or running job.",
    pathParams: job,
    responses: { 200: { description: "it was canceled already", schema: "JobView" }, 202: { description: "canceled now", schema: "JobView" } },
    problems: [404, 409, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs/{id}/events", operationId: "jobEvents", scope: "jobs:read",
    summary: "Server-Sent Events: `event: status` with the job (as GET shows it, a JobView) now and at each change; closes after a terminal state. While a worker runs the job, `event: progress` between them: `{ attempt, stage, elapsedMs, step?: { done, total }, preview? }` (a diffusion's steps; `preview` a data: URL of a PNG).",
    pathParams: job, responses: { 200: { description: "an event stream; each `status` event's `data:` is a JobView, each `progress` event's a progress report", contentType: "text/event-stream" } }, problems: [404, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs/{id}/items", operationId: "listBatchItems", scope: "jobs:read",
    summary: "A batch job's items in index order, finished or pending, each succeeded one's output with a presigned URL: while the batch runs, as its workers finish them; once finished, from its manifest.",
    pathParams: job, query: "BatchItemListQuery", responses: { 200: { description: "a page of items", schema: "BatchItemList" } }, problems: [400, 404, 409, 410, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs/{id}/manifest", operationId: "getBatchManifest", scope: "jobs:read",
    summary: "A finished batch's manifest: one JSON result per line, in index order (`index`, `input`, `phase`, `output` with its storage `uri`, `error`, `attempts`, `finishedAt`). 409 while the batch runs.",
    pathParams: job, responses: { 200: { description: "the manifest", contentType: "application/x-ndjson" } }, problems: [404, 409, 410, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs/{id}/output", operationId: "getJobOutput", scope: "jobs:read",
    summary: "A succeeded job's output, streamed from storage, as a download: Content-Disposition `attachment` named after the uploaded file with the output's extension (`<job id>.<ext>` when the name is unknown), in RFC 6266's filename and, for names outside ISO-8859-1, filename* (UTF-8) forms. 409 before the job succeeded (and for a batch: its items have the outputs), 410 once retention deleted it.",
    pathParams: job, responses: { 200: { description: "the output's bytes, with its Content-Type", contentType: "application/octet-stream", headers: FILE_HEADERS } }, problems: [404, 409, 410, ...KEYED],
  },
  {
    method: "get", path: "/v1/jobs/{id}/input", operationId: "getJobInput", scope: "jobs:read",
    summary: "A job's uploaded input (a multipart upload or a direct upload), streamed from storage, as a download under the uploaded file's name. 404 when the input is not held by the platform (an https:// or s3:// input, a text-to-image job, a batch), 410 once retention deleted it.",
    pathParams: job, responses: { 200: { description: "the input's bytes, with its Content-Type", contentType: "application/octet-stream", headers: FILE_HEADERS } }, problems: [404, 410, ...KEYED],
  },
  {
    method: "get", path: "/v1/me", operationId: "getMe", anyKey: true, summary: "The caller's tenant, key and scopes: any valid key, no particular scope.",
    responses: { 200: { description: "who the key is", schema: "Me" } }, problems: [401, 429, 500, 503],
  },
  {
    method: "post", path: "/v1/ws/tickets", operationId: "wsTicket", scope: "jobs:read",
    summary: "A single-use ticket, valid 60 s, to open the WebSocket `/v1/ws` from a browser (which cannot set headers on one): offer the subprotocols `pixelmill.v1` and `ticket.<ticket>`; never put a key in the URL. Other clients may open `/v1/ws` with `Authorization: Bearer <key>`. On the socket (JSON text frames), send `{ \"type\": \"subscribe\", \"jobs\": [ids] }` or `{ \"type\": \"subscribe\", \"all\": true, \"since\"?: <event id> }`; the server sends `status` (`id`, `job`: a JobView), `progress`, `subscribed` and `error` messages, and pings every 20 s.",
    responses: { 201: { description: "the ticket", schema: "WsTicket" } }, problems: KEYED,
  },
  {
    method: "get", path: "/v1/usage", operationId: "getUsage", scope: "jobs:read",
    summary: "Usage per tenant per UTC day (by finished_at): jobs succeeded, run seconds, GPU-seconds. The caller's tenant; every tenant with `tenant=all` (needs `admin`).",
    query: "UsageQuery", responses: { 200: { description: "the usage", schema: "Usage" } }, problems: [400, ...KEYED],
  },
  {
    method: "get", path: "/v1/models", operationId: "listModels", scope: "models:read", summary: "The models the caller's jobs may name.",
    responses: { 200: { description: "the models", schema: "ModelList" } }, problems: KEYED,
  },
  {
    method: "post", path: "/v1/models", operationId: "addModel", scope: "models:write",
    summary: "Add a model to the caller's namespace (the platform's: a shared model): an ONNX file, or a TF.js layers model converted to ONNX. The file is loaded by onnxruntime and checked against the contract, stored by its SHA-256 and pinned in a new ImageModel; a name the namespace has already is 409.",
    body: {
      multipart: "ModelForm",
      files: {
        file: "an ONNX file (or, instead, a TF.js layers model: the parts below)",
        "model.json": "a TF.js layers model's model.json (its part's field name or file name is model.json)",
        shard: "each weight shard model.json names, as a file part (any other field name) whose file name is the shard's path in the manifest",
      },
    },
    responses: { 201: { description: "the model, as GET /v1/models shows it", schema: "Model" } }, problems: [400, 409, 413, 415, 422, ...KEYED],
  },
  {
    method: "post", path: "/v1/tenants", operationId: "createTenant", scope: "admin", summary: "Create a tenant (a namespace).",
    body: { json: "NewTenant" }, responses: { 201: { description: "the tenant", schema: "Tenant" } }, problems: [400, 409, 413, 415, ...KEYED],
  },
  {
    method: "get", path: "/v1/tenants", operationId: "listTenants", scope: "admin", summary: "Every tenant.",
    responses: { 200: { description: "the tenants", schema: "TenantList" } }, problems: KEYED,
  },
  {
    method: "delete", path: "/v1/tenants/{name}", operationId: "disableTenant", scope: "admin",
    summary: "Disable a tenant: its keys are revoked in the same transaction and refused at once; its namespace and jobs' history stay. Repeated: 200 with the same tenant.",
    pathParams: { name: "the tenant's name" }, responses: { 200: { description: "the disabled tenant", schema: "Tenant" } }, problems: [404, 409, ...KEYED],
  },
  {
    method: "patch", path: "/v1/tenants/{name}", operationId: "setTenantLimits", scope: "admin",
    summary: "Set a tenant's own limits (null: the configured default again); they hold from its keys' next request.",
    pathParams: { name: "the tenant's name" }, body: { json: "TenantLimitsPatch" },
    responses: { 200: { description: "the tenant", schema: "Tenant" } }, problems: [400, 404, 413, 415, ...KEYED],
  },
  {
    method: "post", path: "/v1/keys", operationId: "createKey", scope: "keys:admin", summary: "Create an API key; the answer shows it this once.",
    body: { json: "NewKey" }, responses: { 201: { description: "the key", schema: "CreatedKey" } }, problems: [400, 404, 413, 415, ...KEYED],
  },
  {
    method: "get", path: "/v1/keys", operationId: "listKeys", scope: "keys:admin", summary: "The tenant's keys (every tenant's for admin), never the keys themselves.",
    responses: { 200: { description: "the keys", schema: "KeyList" } }, problems: KEYED,
  },
  {
    method: "delete", path: "/v1/keys/{id}", operationId: "revokeKey", scope: "keys:admin", summary: "Revoke a key, refused at once on every replica.",
    pathParams: { id: "the key's id" }, responses: { 200: { description: "the revoked key", schema: "Key" } }, problems: [404, ...KEYED],
  },
  {
    method: "post", path: "/v1/keys/{id}/rotate", operationId: "rotateKey", scope: "keys:admin",
    summary: "A new key with the same tenant, name, scopes and expiry; the old one is revoked. The answer shows the new key this once.",
    pathParams: { id: "the key's id" }, responses: { 201: { description: "the new key", schema: "CreatedKey" } }, problems: [404, 409, ...KEYED],
  },
  {
    method: "post", path: "/v1/uploads", operationId: "createUpload", scope: "jobs:write",
    summary: "A direct upload: a URL to send one image straight to storage (S3: a presigned form POST; a file store: a signed PUT to the API), with its type and size bound enforced there, valid 15 minutes. A job then names `upload.uri` as its input. The size bound (`bytes`, else MAX_UPLOAD_BYTES) counts against the tenant's upload bytes of the day now.",
    body: { json: "NewUpload" }, responses: { 201: { description: "the upload", schema: "Upload" } }, problems: [400, 413, 415, ...KEYED],
  },
  {
    method: "put", path: "/v1/uploads/{key}", operationId: "putUpload",
    summary: "The file of a direct upload to a file store, by the signed URL POST /v1/uploads handed out (`expires`, `sig`, `max`); no API key. Sniffed as multipart uploads are: an image of the declared type, at most `max` bytes.",
    pathParams: { key: "the upload's key" }, body: { image: "the image's bytes, Content-Type the declared type (or none)" },
    responses: { 200: { description: "stored", schema: "StoredUpload" } }, problems: [403, 413, 415, 500, 503],
  },
  {
    method: "get", path: "/v1/files/{key}", operationId: "getFile", summary: "An object of a file:// store, by the signed URL the API handed out (`expires`, `sig`).",
    pathParams: { key: "the object's key" },
    responses: { 200: { description: "the object's bytes", contentType: "application/octet-stream" } }, problems: [403, 404, 500, 503],
  },
  {
    method: "get", path: "/healthz", operationId: "healthz", summary: "Liveness.",
    responses: { 200: { description: "the process answers", schema: "Health" } }, problems: [],
  },
  {
    method: "get", path: "/readyz", operationId: "readyz", summary: "Readiness: Postgres, the apiserver, the mirror, storage, Redis.",
    responses: { 200: { description: "ready", schema: "Readiness" } }, problems: [503],
  },
  {
    method: "get", path: "/openapi.json", operationId: "openapi", summary: "This document.",
    responses: { 200: { description: "the OpenAPI 3.1 document", contentType: "application/json" } }, problems: [],
  },
  {
    method: "get", path: "/metrics", operationId: "metrics", summary: "Prometheus metrics of this replica, in the text format; no key.",
    responses: { 200: { description: "the metrics", contentType: "text/plain" } }, problems: [],
  },
  {
    method: "get", path: "/v1/pools", operationId: "listPools", scope: "admin",
    summary: "Every WorkerPool of the platform: GPU class, models, replicas (bounds, desired, ready, pending), waiting and in-flight jobs, the last scale and conditions, and the last hour's samples (about one per 30 s, oldest first) the operator recorded.",
    responses: { 200: { description: "the pools, by namespace then name", schema: "PoolList" } }, problems: KEYED,
  },
  ...WEBHOOK_OPERATIONS,
];
