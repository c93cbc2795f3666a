import express, { type Express } from "express";
import type { Logger } from "../common/logger.js";
import type { ObjectStore, UrlSigner } from "../common/storage/index.js";
import type { JobEvents } from "./domain/job-events.js";
import { JobQueries } from "./domain/job-queries.js";
import { CancelJob } from "./domain/cancel-job.js";
import { IdempotentSubmit } from "./domain/idempotent-submit.js";
import { AddModel } from "./domain/add-model.js";
import { OnnxInspector } from "./onnx/onnx-inspector.js";
import type {
  ApiKeyRepository, UploadFilenameRepository, Cluster, DependencyHealth, ModelInspector, IdempotencyRepository, JobRepository, RequestLimiter, TenantRepository, UploadCounter,
} from "./domain/ports.js";
import { TenantCaps, type Limits } from "./domain/limits.js";
import { Authenticate } from "./domain/authenticate.js";
import { ManageKeys } from "./domain/manage-keys.js";
import { ManageTenants } from "./domain/manage-tenants.js";
import { tenantRoutes } from "./http/routes/tenants.js";
import { usageRoutes } from "./http/routes/usage.js";
import { UsageReports } from "./domain/usage-report.js";
import { SubmitJob } from "./domain/submit-job.js";
import { GuardedStore } from "./health/guarded-store.js";
import { JobPresenter } from "./http/job-presenter.js";
import type { OutputRetention } from "./domain/retention.js";
import { errorHandler, notFound } from "./http/problem.js";
import { requestLog } from "./http/request-log.js";
import { requestIds } from "./http/request-id.js";
import { fileRoutes } from "./http/routes/files.js";
import { uploadRoutes } from "./http/routes/uploads.js";
import { DirectUploads } from "./domain/direct-upload.js";
import { healthRoutes, type ReadinessChecks } from "./http/routes/health.js";
import { jobEventRoutes } from "./http/routes/job-events.js";
import { jobRoutes } from "./http/routes/jobs.js";
import { modelRoutes } from "./http/routes/models.js";
import { openApiRoutes } from "./http/routes/openapi.js";
import { httpMetrics, metricsRoutes, rateLimitMetrics } from "./http/metrics.js";
import { processRegistry, type Registry } from "../common/metrics.js";
import { SseStreams } from "./http/sse-streams.js";
import { wsTicketRoutes } from "./http/ws/ticket-routes.js";
import type { WsTickets } from "./http/ws/ws-tickets.js";
import type { QueuePositions } from "./domain/queue-position.js";
import { ManageWebhooks, type ManageWebhooksDeps } from "./domain/manage-webhooks.js";
import { webhookRoutes } from "./http/routes/webhooks.js";
import { BatchItems, type BatchItemSource } from "./domain/batch-items.js";
import { batchItemRoutes } from "./http/routes/batch-items.js";
import { poolRoutes, type PoolRoutesDeps } from "./http/routes/pools.js";
import { JobFiles } from "./domain/job-files.js";
import { jobFileRoutes } from "./http/routes/job-files.js";
import { meRoutes } from "./http/routes/me.js";
import { consoleRoutes } from "./http/routes/console.js";

export interface AppDeps {
  log: Logger;
  /** PUBLIC_URL: the base of the absolute links in responses. */
  publicUrl: string;
  /** MAX_UPLOAD_BYTES */
  maxUploadBytes: number;
  /** MODEL_UPLOAD_MAX_BYTES: the files of one POST /v1/models together; 512 MiB. */
  modelUploadMaxBytes?: number;
  /** Loads uploaded models (POST /v1/models); onnxruntime in a thread, MODEL_LOAD_TIMEOUT_MS 60 s, by default. */
  modelInspector?: ModelInspector;
  /** Where POST /v1/models keeps a request's files while checking them; the OS's temporary folder. */
  modelTmpDir?: string;
  /** OUTPUT_URL_TTL_SECONDS */
  outputUrlTtlSeconds: number;
  jobs: JobRepository;
  /** Idempotency-Key claims of POST /v1/jobs. */
  idempotencyKeys: IdempotencyRepository;
  /** API keys, read on every request but the key-less ones (health, signed file URLs). */
  apiKeys: ApiKeyRepository;
  tenants: TenantRepository;
  cluster: Cluster;
  store: ObjectStore;
  /** Changes from the mirror, for the SSE streams. */
  events: JobEvents;
  /** The open SSE streams; pass one to be able to close them at shutdown. */
  streams?: SseStreams;
  /** The tickets of POST /v1/ws/tickets, for browsers' WebSockets (api/http/ws/); none: that route fails. */
  wsTickets?: WsTickets;
  /** The signer of a file:// store's URLs; without one, /v1/files serves nothing. */
  fileUrlSigner?: UrlSigner;
  /** Named checks behind /readyz (Postgres, the apiserver, the mirror, storage, Redis). */
  readiness?: ReadinessChecks;
  /**
   * What is known of the services a new job needs (SUBMIT_NEEDS): POST /v1/jobs is refused with
   * 503 while one is down, and an upload stops when storage is found down under it.
   */
  health?: DependencyHealth;
  /** Between SSE keepalive comments; 15 s. */
  sseKeepaliveMs?: number;
  /** INPUT_BUCKETS (common/job/input-uri.ts inputBuckets): buckets `s3://` inputs may name; default the store's. */
  inputBuckets?: readonly string[];
  /** Request rate per key and the tenant caps (ADR 0009); none: unlimited. */
  limits?: LimitsDeps;
  /** Where the HTTP metrics go and what GET /metrics serves; the process's registry by default. */
  metrics?: Registry;
  /** Waiting jobs' places in their queues, shown by GET and the SSE streams; none: `queue` is null. */
  queuePositions?: Pick<QueuePositions, "of">;
  /** Days outputs are kept per namespace, shown as a job's output.expires_at. */
  outputRetention?: Pick<OutputRetention, "daysFor">;
  /** Between reads of a followed waiting job's place (SSE `position` events); 5 s. */
  positionIntervalMs?: number;
  /** A running batch's items in Redis (GET /v1/jobs/:id/items); none: only finished batches' (their manifests) are listed. */
  batchItems?: BatchItemSource;
  /** The webhook outbox, secrets and rules (docs/webhooks.md); none: the webhook routes refuse, and so does a job with a webhook. */
  webhooks?: Omit<ManageWebhooksDeps, "jobs"> & { refuse?: (url: string) => Promise<string | undefined> };
  /** The WorkerPools and their last hour (GET /v1/pools); none: that route fails. */
  pools?: Pick<PoolRoutesDeps, "pools" | "history">;
  /** The filenames given to POST /v1/uploads, for the jobs naming the uploads; none: such jobs' input.filename is null. */
  uploadFilenames?: UploadFilenameRepository;
  /** CONSOLE_DIR: the built web console (web/dist), served under `/` after every API route; none: no console. */
  consoleDir?: string;
}

export interface LimitsDeps {
  /** RATE_LIMIT_PER_MINUTE, TENANT_MAX_ACTIVE_JOBS, TENANT_MAX_UPLOAD_BYTES_PER_DAY: where a tenant has no override. */
  defaults: Limits;
  requests: RequestLimiter;
  uploads: UploadCounter;
}

/** Storage takes the upload and, later, the output; the operator enqueues into Redis. */
export const SUBMIT_NEEDS = ["storage", "redis"] as const;

/** The HTTP API: thin routes over the use cases, every error an RFC 9457 problem. */
export function createApp(deps: AppDeps): Express {
  const log = deps.log.child({ component: "http" });
  const presenter = new JobPresenter({ store: deps.store, publicUrl: deps.publicUrl, outputUrlTtlSeconds: deps.outputUrlTtlSeconds, log, positions: deps.queuePositions, retention: deps.outputRetention });
  const queries = new JobQueries({ jobs: deps.jobs });
  const { limits } = deps;
  const rateLimits = limits && { limiter: limits.requests, defaultPerMinute: limits.defaults.rateLimitPerMinute };
  const auth = new Authenticate({ keys: deps.apiKeys, log, rateLimits });
  const caps = limits && new TenantCaps({ defaults: limits.defaults, jobs: deps.jobs, uploads: limits.uploads });
  const { health } = deps;
  // The submit path's store: its uploads and their removal stop as soon as storage is found down.
  const uploads = health ? new GuardedStore(deps.store, health) : deps.store;
  const submit = new SubmitJob({ cluster: deps.cluster, jobs: deps.jobs, store: uploads, inputBuckets: deps.inputBuckets, log, caps, refuseWebhook: deps.webhooks?.refuse, uploadFilenames: deps.uploadFilenames });
  const idempotent = new IdempotentSubmit({ submit, keys: deps.idempotencyKeys, jobs: deps.jobs, store: uploads, log });
  const cancel = new CancelJob({ cluster: deps.cluster, jobs: deps.jobs, queries, events: deps.events, log });

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const metrics = deps.metrics ?? processRegistry();
  app.use(requestIds());
  app.use(requestLog(log));
  app.use(httpMetrics(metrics));
  app.use(healthRoutes({ readiness: deps.readiness ?? {}, log }));
  app.use(openApiRoutes({ publicUrl: deps.publicUrl }));
  app.use(metricsRoutes(metrics));
  // After the key, before the body is read: a job that could not be kept is refused without storing its upload.
  const beforeSubmit = health && (async (_req: unknown, _res: unknown, next: () => void) => {
    await health.require(...SUBMIT_NEEDS);
    next();
  });
  app.use(jobRoutes({ submit, idempotent, cancel, queries, presenter, store: uploads, auth, beforeSubmit, maxUploadBytes: deps.maxUploadBytes, log, caps, uploadFilenames: deps.uploadFilenames }));
  app.use(jobFileRoutes({ files: new JobFiles({ queries, store: deps.store }), auth, log }));
  app.use(meRoutes({ auth, maxUploadBytes: deps.maxUploadBytes }));
  app.use(batchItemRoutes({ items: new BatchItems({ queries, store: deps.store, source: deps.batchItems, filenames: deps.uploadFilenames }), presenter, auth, log }));
  app.use(jobEventRoutes({
    queries, presenter, events: deps.events, streams: deps.streams ?? new SseStreams(), keepaliveMs: deps.sseKeepaliveMs ?? 15_000, positionIntervalMs: deps.positionIntervalMs, auth, log,
  }));
  const addModel = new AddModel({ cluster: deps.cluster, store: uploads, inspector: deps.modelInspector ?? new OnnxInspector({ timeoutMs: 60_000 }), log });
  const beforeAdd = health && (async (_req: unknown, _res: unknown, next: () => void) => {
    await health.require("storage");
    next();
  });
  app.use(modelRoutes({ cluster: deps.cluster, auth, add: addModel, maxUploadBytes: deps.modelUploadMaxBytes ?? 512 * 1024 ** 2, beforeAdd, tmpDir: deps.modelTmpDir }));
  app.use(poolRoutes({ ...deps.pools, auth, log }));
  app.use(usageRoutes({ usage: new UsageReports({ jobs: deps.jobs }), auth }));
  app.use(wsTicketRoutes({ auth, tickets: deps.wsTickets }));
  app.use(webhookRoutes({ webhooks: new ManageWebhooks({ graceSeconds: 86_400, ...deps.webhooks, jobs: deps.jobs }), auth }));
  app.use(tenantRoutes({ tenants: new ManageTenants({ tenants: deps.tenants, cluster: deps.cluster }), keys: new ManageKeys({ keys: deps.apiKeys, tenants: deps.tenants }), auth }));
  // Presigned on the store itself; the API's own PUT (a file store) writes through the submit path's.
  const directUploads = new DirectUploads({ store: deps.store, putStore: uploads, fileSigner: deps.fileUrlSigner, publicUrl: deps.publicUrl, maxUploadBytes: deps.maxUploadBytes, caps, log, filenames: deps.uploadFilenames });
  app.use(uploadRoutes({ uploads: directUploads, auth, beforeUpload: health && (() => health.require("storage")) }));
  app.use(fileRoutes({ store: deps.store, signer: deps.fileUrlSigner, log }));
  if (deps.consoleDir !== undefined) app.use(consoleRoutes({ dir: deps.consoleDir }));
  app.use(notFound());
  app.use(rateLimitMetrics(metrics));
  app.use(errorHandler(log));
  return app;
}
