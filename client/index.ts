import type { z } from "zod";
import type { jsonJob } from "../api/http/job-request.js";
import type { modelContract, modelOrigin } from "../api/http/model-form.js";
import type { listQuery } from "../api/http/routes/jobs.js";
import type { newKey, newTenant, tenantLimitsPatch } from "../api/http/routes/tenants.js";
import type { usageQuery } from "../api/http/routes/usage.js";
import type { BatchItemListView, BatchItemView, CreatedKey, JobListView, JobStatus, JobSummary, JobView, KeyView, ModelList, ModelView, ProblemDetails, TenantView, UploadView, UsageView, WsTicketView } from "../api/http/schemas.js";
import type { MeView } from "../api/http/schemas.js";
import type { PoolListView, PoolView } from "../api/http/schemas.js";
import { readEvents } from "./sse.js";

// A typed client of the Pixelmill HTTP API. Its types are the zod schemas' the API validates
// requests with and shapes answers with (api/http/schemas.ts): imported as types only, so the
// client runs anywhere fetch does and carries none of the server's code.

export type { BatchItemListView, BatchItemView, CreatedKey, JobListView, JobStatus, JobSummary, JobView, KeyView, ModelList, ModelView, ProblemDetails, TenantView, UploadView, UsageView, WsTicketView };
export type { MeView };
export type { PoolListView, PoolView };
/** A job's file downloaded through the API (output(), input()): its bytes, type and the name to save it under. */
export interface JobFileDownload {
  bytes: Uint8Array;
  contentType: string;
  filename: string;
}
/** The JSON body of POST /v1/jobs. */
export type JobRequest = z.input<typeof jsonJob>;

/** A worker's progress report on a job's event stream (`event: progress`). */
export interface JobProgressEvent {
  attempt: number;
  stage: "fetch" | "decode" | "inference" | "encode" | "upload";
  elapsedMs: number;
  step?: { done: number; total: number };
  /** A data: URL of a small PNG of the image so far. */
  preview?: string;
}
/** What submit() takes besides the input. Multipart uploads carry `output.format` but not `output.quality`. */
export type SubmitOptions = Omit<JobRequest, "input"> & { idempotencyKey?: string; filename?: string };
/** The query of GET /v1/jobs. */
export type ListQuery = Partial<z.output<typeof listQuery>>;
export type NewKey = z.input<typeof newKey>;
export type NewTenant = z.input<typeof newTenant>;
/** A tenant's own limits to set: a number, null for the configured default again; an absent one stays. */
export type TenantLimits = z.input<typeof tenantLimitsPatch>["limits"];
/** The tensor contract of a model added with addModel: the ImageModel spec's input, output, params and pools (camelCase, as in a manifest). */
export type ModelContract = z.input<typeof modelContract>;
export type ModelOrigin = z.input<typeof modelOrigin>;
/** What addModel sends besides the files. */
export interface NewModel {
  name: string;
  task: "image-to-image" | "image-to-mask";
  contract: ModelContract;
  license?: string;
  origin?: ModelOrigin;
}
/** The model's files: one ONNX file, or a TF.js layers model (model.json and each weight shard by the path model.json gives it). */
export type ModelFiles = { onnx: Blob | Uint8Array } | { tfjs: { modelJson: Blob | Uint8Array; shards: Record<string, Blob | Uint8Array> } };
/** The query of GET /v1/usage: UTC days YYYY-MM-DD (default the last 30 days), `tenant: "all"` for every tenant's (admin). */
export type UsageQuery = z.input<typeof usageQuery>;

export interface ClientOptions {
  /** Default http://localhost:8080. */
  baseUrl?: string;
  apiKey?: string;
  fetch?: typeof fetch;
}

export const FINISHED: readonly JobStatus[] = ["succeeded", "failed", "canceled"];

/** An answer of the API with an error status, carrying its RFC 9457 problem. */
export class PixelmillApiError extends Error {
  constructor(readonly problem: ProblemDetails) {
    super(`${problem.title} (${problem.status}): ${problem.detail}`);
    this.name = "PixelmillApiError";
  }

  get status(): number {
    return this.problem.status;
  }
}

export class PixelmillClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? "http://localhost:8080").replace(/\/+$/, "");
    this.apiKey = opts.apiKey;
    this.fetchFn = opts.fetch ?? fetch;
  }

  /**
   * Submits a job: bytes are uploaded (multipart), `{ uri }` (upload:, s3:// or https://) is sent as JSON,
   * and `null` sends a job without an input image (a text-to-image model's: a prompt in params).
   */
  async submit(input: Blob | Uint8Array | { uri: string } | null, opts: SubmitOptions): Promise<JobSummary> {
    const { idempotencyKey, filename, ...job } = opts;
    const headers: Record<string, string> = idempotencyKey ? { "idempotency-key": idempotencyKey } : {};
    if (input === null) return this.request("POST", "/v1/jobs", { json: job, headers });
    if ("uri" in input) {
      return this.request("POST", "/v1/jobs", { json: { ...job, input: { uri: input.uri } }, headers });
    }
    const form = new FormData();
    form.set("model", job.model);
    if (job.params) form.set("params", JSON.stringify(job.params));
    if (job.output?.format) form.set("output_format", job.output.format);
    if (job.timeoutSeconds !== undefined) form.set("timeout_seconds", String(job.timeoutSeconds));
    if (job.startDeadlineSeconds !== undefined) form.set("start_deadline_seconds", String(job.startDeadlineSeconds));
    if (job.cache !== undefined) form.set("cache", String(job.cache));
    if (job.webhook !== undefined) form.set("webhook", job.webhook);
    if (job.webhookEvents !== undefined) form.set("webhook_events", job.webhookEvents.join(","));
    form.set("image", input instanceof Blob ? input : new Blob([new Uint8Array(input)]), filename ?? "image");
    return this.request("POST", "/v1/jobs", { body: form, headers });
  }

  /** A direct upload (POST /v1/uploads): where to send one image of `contentType`, at most `bytes` long (MAX_UPLOAD_BYTES if left out). */
  async createUpload(opts: { contentType: string; bytes?: number; filename?: string }): Promise<UploadView> {
    const json = { content_type: opts.contentType, ...(opts.bytes === undefined ? {} : { bytes: opts.bytes }), ...(opts.filename === undefined ? {} : { filename: opts.filename }) };
    return (await this.request<{ upload: UploadView }>("POST", "/v1/uploads", { json })).upload;
  }

  /**
   * Sends an image straight to storage (createUpload, then S3's form POST or the API's PUT) and
   * returns its `upload:` URI, for submit({ uri }): on S3 storage the bytes never pass through the
   * API. The type is `contentType`, else the Blob's; the bound is the file's own size; the name
   * (`filename`, else a File's) becomes the job's input.filename.
   */
  async uploadFile(data: Blob | Uint8Array, opts: { contentType?: string; filename?: string } = {}): Promise<string> {
    const blob = blobOf(data);
    const contentType = opts.contentType ?? blob.type;
    if (!contentType) throw new Error("uploadFile needs the image's type: pass contentType, or a Blob with a type");
    const upload = await this.createUpload({ contentType, bytes: blob.size, filename: opts.filename ?? (data instanceof File ? data.name : undefined) });
    const file = new Blob([blob], { type: contentType });
    // No API key goes to these URLs: the signature is the grant.
    let res: Response;
    if (upload.method === "POST") {
      const form = new FormData();
      for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
      form.append("file", file); // last: S3 ignores fields after the file
      res = await this.fetchFn(upload.url, { method: "POST", body: form });
    } else {
      res = await this.fetchFn(upload.url, { method: "PUT", body: file, headers: { "content-type": contentType } });
    }
    if (!res.ok) throw new PixelmillApiError(await problemOf(res));
    return upload.uri;
  }

  get(id: string): Promise<JobView> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}`);
  }

  list(query: ListQuery = {}): Promise<JobListView> {
    return this.request("GET", `/v1/jobs${queryString(query)}`);
  }

  /** A page of a batch job's items in index order (docs/batch.md): pending ones too, succeeded ones with a presigned output URL. */
  items(id: string, query: { limit?: number; cursor?: string } = {}): Promise<BatchItemListView> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/items${queryString(query)}`);
  }

  /** A finished batch's manifest: one JSON result per line (application/x-ndjson). */
  async manifest(id: string): Promise<string> {
    return (await this.send("GET", `/v1/jobs/${encodeURIComponent(id)}/manifest`, { headers: { accept: "application/x-ndjson" } })).text();
  }

  /** Cancels a job; the job, now canceled (also when it was already). */
  cancel(id: string): Promise<JobView> {
    return this.request("DELETE", `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * The job now and at each change, until it is finished (Server-Sent Events). A stream that
   * ends early is opened again; what it repeats is skipped. `onProgress` hears the worker's
   * progress reports between changes (a diffusion's steps, with an occasional preview).
   */
  async *watch(id: string, opts: { signal?: AbortSignal; onProgress?: (progress: JobProgressEvent) => void } = {}): AsyncGenerator<JobView> {
    let last: string | undefined;
    for (let quiet = 0; quiet < 5; quiet++) {
      const res = await this.send("GET", `/v1/jobs/${encodeURIComponent(id)}/events`, { headers: { accept: "text/event-stream" }, signal: opts.signal });
      if (!res.body) throw new Error("the event stream has no body");
      for await (const event of readEvents(res.body)) {
        if (event.event === "progress") opts.onProgress?.(JSON.parse(event.data) as JobProgressEvent);
        if (event.event !== "status") continue;
        const view = JSON.parse(event.data) as JobView;
        const seen = JSON.stringify([view.status, view.attempts, view.error, view.output?.bytes]);
        if (seen === last) continue;
        last = seen;
        quiet = 0;
        yield view;
        if (FINISHED.includes(view.status)) return;
      }
    }
    throw new Error(`the event stream of job ${id} kept ending before the job finished`);
  }

  /** Waits for the job to finish; its last view. */
  async wait(id: string, onChange?: (view: JobView) => void, onProgress?: (progress: JobProgressEvent) => void): Promise<JobView> {
    let view: JobView | undefined;
    for await (view of this.watch(id, { onProgress })) onChange?.(view);
    return view ?? this.get(id);
  }

  /** The output's bytes of a succeeded job (from its presigned URL: no key is sent). */
  async download(view: JobView): Promise<Uint8Array> {
    const url = view.output?.url;
    if (!url) throw new Error(`job ${view.id} has no output to download (${view.status})`);
    const res = await this.fetchFn(url);
    if (!res.ok) throw new Error(`the output of job ${view.id} could not be downloaded: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  models(): Promise<ModelList> {
    return this.request("GET", "/v1/models");
  }

  /**
   * Adds a model to the key's tenant (models:write): the API loads it with onnxruntime, checks it
   * against the contract, stores it by its SHA-256 and creates the ImageModel. The model as
   * models() lists it.
   */
  addModel(model: NewModel, files: ModelFiles): Promise<ModelView> {
    const form = new FormData();
    form.set("name", model.name);
    form.set("task", model.task);
    form.set("contract", JSON.stringify(model.contract));
    if (model.license) form.set("license", model.license);
    if (model.origin) form.set("origin", JSON.stringify(model.origin));
    if ("onnx" in files) {
      form.set("file", blobOf(files.onnx), "model.onnx");
    } else {
      form.set("model.json", blobOf(files.tfjs.modelJson), "model.json");
      for (const [path, bytes] of Object.entries(files.tfjs.shards)) form.append("shard", blobOf(bytes), path);
    }
    return this.request("POST", "/v1/models", { body: form });
  }

  /**
   * A single-use ticket (valid 60 s) for a browser to open the WebSocket `/v1/ws`:
   * `new WebSocket(url, ["pixelmill.v1", "ticket." + ticket])`. Never put the key in the URL.
   */
  wsTicket(): Promise<WsTicketView> {
    return this.request("POST", "/v1/ws/tickets");
  }

  /** Usage per tenant per UTC day: jobs succeeded, run seconds, GPU-seconds. */
  usage(query: UsageQuery = {}): Promise<UsageView> {
    return this.request("GET", `/v1/usage${queryString(query)}`);
  }

  /** Tenants (admin scope): each is a namespace, made by the platform or an existing one adopted. */
  readonly tenants = {
    create: (tenant: NewTenant): Promise<TenantView> => this.request("POST", "/v1/tenants", { json: tenant }),
    list: async (): Promise<TenantView[]> => (await this.request<{ items: TenantView[] }>("GET", "/v1/tenants")).items,
    /** Disables the tenant: its keys are revoked and refused at once; its namespace and jobs stay. Repeating it is harmless. */
    disable: (name: string): Promise<TenantView> => this.request("DELETE", `/v1/tenants/${encodeURIComponent(name)}`),
    /** Sets the tenant's own limits; they hold from its keys' next request. */
    setLimits: (name: string, limits: TenantLimits): Promise<TenantView> => this.request("PATCH", `/v1/tenants/${encodeURIComponent(name)}`, { json: { limits } }),
  };

  readonly keys = {
    create: (key: NewKey): Promise<CreatedKey> => this.request("POST", "/v1/keys", { json: key }),
    list: async (): Promise<KeyView[]> => (await this.request<{ items: KeyView[] }>("GET", "/v1/keys")).items,
    revoke: (id: string): Promise<KeyView> => this.request("DELETE", `/v1/keys/${encodeURIComponent(id)}`),
    /** A new key in place of key `id` (same tenant, name, scopes, expiry), shown this once; the old one is revoked. */
    rotate: (id: string): Promise<CreatedKey> => this.request("POST", `/v1/keys/${encodeURIComponent(id)}/rotate`),
  };

  /** Who the key is: its tenant, id, name and scopes (any valid key). */
  me(): Promise<MeView> {
    return this.request("GET", "/v1/me");
  }

  /** A succeeded job's output through the API (jobs:read), with the name to save it under: the uploaded file's, with the output's extension. */
  output(id: string): Promise<JobFileDownload> {
    return this.file(`/v1/jobs/${encodeURIComponent(id)}/output`);
  }

  /** A job's uploaded input through the API (jobs:read); a 404 problem when its input is not an upload. */
  input(id: string): Promise<JobFileDownload> {
    return this.file(`/v1/jobs/${encodeURIComponent(id)}/input`);
  }

  /** Every WorkerPool of the platform (admin): replicas, demand, conditions and the last hour's samples. */
  pools(): Promise<PoolListView> {
    return this.request("GET", "/v1/pools");
  }

  private async file(path: string): Promise<JobFileDownload> {
    const res = await this.send("GET", path, { headers: { accept: "*/*" } });
    return {
      bytes: new Uint8Array(await res.arrayBuffer()),
      contentType: res.headers.get("content-type") ?? "application/octet-stream",
      filename: dispositionFilename(res.headers.get("content-disposition")) ?? path.split("/").at(-2) ?? "download",
    };
  }

  private async request<T>(method: string, path: string, init: { json?: unknown; body?: FormData; headers?: Record<string, string> } = {}): Promise<T> {
    const res = await this.send(method, path, init);
    return (await res.json()) as T;
  }

  /** The answer when its status is 2xx; PixelmillApiError with its problem otherwise. */
  private async send(method: string, path: string, init: { json?: unknown; body?: FormData; headers?: Record<string, string>; signal?: AbortSignal | undefined }): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let body: string | FormData | undefined = init.body;
    if (init.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    const res = await this.fetchFn(`${this.baseUrl}${path}`, { method, headers, body, signal: init.signal });
    if (res.ok) return res;
    throw new PixelmillApiError(await problemOf(res));
  }
}

/** The file name of a Content-Disposition header: its filename* (RFC 8187, UTF-8) when given, else its filename. */
function dispositionFilename(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim());
    } catch {
      // malformed: the plain form below
    }
  }
  const plain = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header) ?? /filename\s*=\s*([^;\s]+)/i.exec(header);
  return plain ? plain[1]!.replace(/\\(.)/g, "$1") : undefined;
}

function blobOf(data: Blob | Uint8Array): Blob {
  return data instanceof Blob ? data : new Blob([new Uint8Array(data)]);
}

function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value instanceof Date ? value.toISOString() : String(value));
  return params.size ? `?${params.toString()}` : "";
}

/** The problem (RFC 9457) of a failed answer: its JSON body, or one made from its status and text. */
export async function problemOf(res: Response): Promise<ProblemDetails> {
  const text = await res.text();
  try {
    const parsed = JSON.parse(text) as Partial<ProblemDetails>;
    if (typeof parsed.title === "string") return { type: "about:blank", detail: "", ...parsed, status: res.status } as ProblemDetails;
  } catch {
    // not JSON: described below
  }
  return { type: "about:blank", title: res.statusText || `HTTP ${res.status}`, status: res.status, detail: text.slice(0, 500) };
}
