import type { Express } from "express";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../common/logger.js";
import { createRedis, redisWritable } from "../common/redis.js";
import type { ObjectStore, UrlSigner } from "../common/storage/index.js";
import { createApp } from "./app.js";
import { PrismaIdempotencyRepository } from "./data/idempotency-repository.js";
import { PrismaJobRepository } from "./data/job-repository.js";
import { WrittenJobs } from "./data/written-jobs.js";
import { createPrisma, pingDatabase, type PrismaClient } from "./data/prisma.js";
import { JobEvents } from "./domain/job-events.js";
import { ProgressFeed } from "./data/progress-feed.js";
import { DependencyMonitor } from "../common/health/dependency-monitor.js";
import { SseStreams } from "./http/sse-streams.js";
import { KubeCluster } from "./kube/kube-cluster.js";
import { OnnxInspector } from "./onnx/onnx-inspector.js";
import { JobMirror } from "./mirror/job-mirror.js";
import { KubeJobSource } from "../common/kube/kube-list-source.js";
import { DEFAULT_MIRROR_DELETE_AFTER_SECONDS } from "../common/job/retention.js";
import { FinishedJobDeleter } from "./mirror/finished-job-deleter.js";
import { TenantNamespaces } from "./mirror/tenant-namespaces.js";
import { KubeJobDeleter } from "./kube/kube-job-deleter.js";
import { apiKeyPrefix, hashApiKey } from "../common/auth/api-key.js";
import { PrismaApiKeyRepository } from "./data/api-key-repository.js";
import { PrismaTenantRepository } from "./data/tenant-repository.js";
import { PLATFORM_TENANT } from "./domain/principal.js";
import type { Limits } from "./domain/limits.js";
import { RedisRequestLimiter, RedisUploadCounter } from "./data/redis-limits.js";
import { Authenticate } from "./domain/authenticate.js";
import { JobPresenter } from "./http/job-presenter.js";
import { JobSockets } from "./http/ws/job-sockets.js";
import { WsTickets } from "./http/ws/ws-tickets.js";
import { processRegistry } from "../common/metrics.js";
import { QueuePositions } from "./domain/queue-position.js";
import { RedisQueueStandings } from "./data/redis-queue-standings.js";
import { RedisBatchItems } from "./data/redis-batch-items.js";
import { RedisPoolHistory } from "./data/redis-pool-history.js";
import { KubePools } from "./kube/kube-pools.js";
import { PrismaRetentionRepository } from "./data/retention-repository.js";
import { OutputRetention, RetentionSweeper } from "./domain/retention.js";
import { DEFAULT_OUTPUT_RETENTION_DAYS, DEFAULT_RETENTION_SWEEP_INTERVAL_MS } from "../common/config.js";
import { PrismaUploadFilenameRepository } from "./data/upload-filename-repository.js";
import { assembleWebhooks, type WebhookOptions, type Webhooks } from "./outbox/assemble-webhooks.js";

export interface ApiOptions {
  kc: KubeConfig;
  /** PIXELMILL_NAMESPACE: the platform tenant's namespace, where the shared ImageModels live. */
  platformNamespace: string;
  /** PIXELMILL_ADMIN_KEY(_FILE): stored (as its hash) as an `admin` key of the platform tenant by prepare(). */
  adminKey?: string;
  databaseUrl: string;
  /** REDIS_URL: the queues' Redis, which new jobs need (the operator enqueues into it). */
  redisUrl: string;
  /** QUEUE_PREFIX: the API's health key lives under it. */
  queuePrefix: string;
  store: ObjectStore;
  log: Logger;
  publicUrl: string;
  maxUploadBytes: number;
  /** MODEL_UPLOAD_MAX_BYTES, MODEL_LOAD_TIMEOUT_MS (POST /v1/models); 512 MiB and 60 s. */
  modelUploadMaxBytes?: number;
  modelLoadTimeoutMs?: number;
  /** Where POST /v1/models keeps a request's files while checking them; the OS's temporary folder. */
  modelTmpDir?: string;
  outputUrlTtlSeconds: number;
  fileUrlSigner?: UrlSigner;
  inputBuckets?: readonly string[];
  sseKeepaliveMs?: number;
  /** Between reads of a followed waiting job's queue position (SSE and WebSocket `position` events); 5 s. */
  positionIntervalMs?: number;
  /** WS_HEARTBEAT_MS: between the pings of /v1/ws; a connection that missed one is dropped at the next. 20 s. */
  wsHeartbeatMs?: number;
  /**
   * MIRROR_DELETE_FINISHED_AFTER_SECONDS: a finished ImageJob without a TTL of its own is deleted
   * this long after it finished, once the mirror has committed its end (ADR 0018); 30 s.
   */
  deleteFinishedAfterSeconds?: number;
  /** The server ends each watch of the mirror after this long; 300 s. */
  watchTimeoutSeconds?: number;
  /** HEALTH_CHECK_INTERVAL_MS, HEALTH_CHECK_TIMEOUT_MS: background checks of storage and Redis; 2 s each. */
  healthCheckIntervalMs?: number;
  healthCheckTimeoutMs?: number;
  /** RATE_LIMIT_PER_MINUTE, TENANT_MAX_ACTIVE_JOBS, TENANT_MAX_UPLOAD_BYTES_PER_DAY (ADR 0009); none: config's defaults. */
  limits?: Partial<Limits>;
  /** OUTPUT_RETENTION_DAYS: a finished job's output and upload are deleted this long after it finished; 7. */
  outputRetentionDays?: number;
  /** RETENTION_SWEEP_INTERVAL_MS: between the retention sweeps; 10 min. */
  retentionSweepIntervalMs?: number;
  /** The WEBHOOK_* settings (docs/webhooks.md); none: webhooks are off. */
  webhooks?: WebhookOptions;
  /** CONSOLE_DIR: the built web console served under `/`; none: no console. */
  consoleDir?: string;
}

/** The limits where neither the configuration nor a tenant says otherwise (common/config.ts). */
export const DEFAULT_LIMITS: Limits = { rateLimitPerMinute: 600, maxActiveJobs: 1000, maxUploadBytesPerDay: 10 * 1024 ** 3 };

export interface Api {
  app: Express;
  prisma: PrismaClient;
  jobs: PrismaJobRepository;
  idempotencyKeys: PrismaIdempotencyRepository;
  apiKeys: PrismaApiKeyRepository;
  tenants: PrismaTenantRepository;
  events: JobEvents;
  mirror: JobMirror;
  /** /v1/ws: attach(server) takes the HTTP server's upgrades (api/main.ts, the test fixture). */
  sockets: JobSockets;
  /** Storage and Redis, as last checked. */
  health: DependencyMonitor;
  /** Deletes expired outputs and uploads, every retentionSweepIntervalMs once started. */
  sweeper: RetentionSweeper;
  /** The webhook outbox and this process's sender (none when it does not send). */
  webhooks: Pick<Webhooks, "outbox" | "sender">;
  /** Before serving: the platform tenant and the bootstrap admin key, in Postgres. */
  prepare(): Promise<void>;
  /** Starts the mirror, the dependency checks, the retention sweeper and the hourly pruning of Idempotency-Keys. */
  start(): void;
  /** Closes the SSE streams and the WebSockets (call before closing the HTTP server). */
  closeStreams(): void;
  stop(): Promise<void>;
}

/** The API's parts, wired once for its process (api/main.ts) and for tests (test/support/api-fixture.ts). */
export function assembleApi(opts: ApiOptions): Api {
  const { kc, platformNamespace, log } = opts;
  const prisma = createPrisma(opts.databaseUrl);
  const jobs = new PrismaJobRepository(prisma);
  // One instance for the submit path and the mirror: the mirror skips the states the submit path has just written.
  const jobRows = new WrittenJobs(jobs);
  const idempotencyKeys = new PrismaIdempotencyRepository(prisma);
  const uploadFilenames = new PrismaUploadFilenameRepository(prisma);
  const apiKeys = new PrismaApiKeyRepository(prisma);
  const tenants = new PrismaTenantRepository(prisma);
  const tenantNamespaces = new TenantNamespaces(tenants);
  const cluster = new KubeCluster(kc, { platformNamespace });
  const events = new JobEvents();
  const streams = new SseStreams();
  // Every namespace: each tenant's jobs are in its own.
  const deleter = new FinishedJobDeleter({
    port: new KubeJobDeleter(kc), log: log.child({ component: "mirror" }), delayMs: (opts.deleteFinishedAfterSeconds ?? DEFAULT_MIRROR_DELETE_AFTER_SECONDS) * 1000,
    owns: (namespace) => tenantNamespaces.has(namespace),
  });
  const mirror = new JobMirror({ source: new KubeJobSource(kc, undefined, opts.watchTimeoutSeconds), jobs: jobRows, events, log, deleter });
  const timeoutMs = opts.healthCheckTimeoutMs ?? 2000;
  // Its own connection, not queueing behind anything, and back soon after Redis is.
  const redis = createRedis(opts.redisUrl, { log, connectionName: "pixelmill-api", commandTimeoutMs: timeoutMs, maxRetryDelayMs: 500 });
  const healthKey = `${opts.queuePrefix}:health:api`;
  const webhooks = assembleWebhooks(prisma, opts.databaseUrl, opts.webhooks ?? {}, log);
  const progress = new ProgressFeed(redis, opts.queuePrefix, events, (p) => webhooks.onProgress(p));
  const health = new DependencyMonitor({
    checks: {
      storage: (signal) => opts.store.check(signal),
      // Writable, not only up: at maxmemory (noeviction) or as a replica, Redis answers PING but refuses every enqueue.
      redis: (signal) => redisWritable(redis, healthKey, 30_000, signal),
    },
    intervalMs: opts.healthCheckIntervalMs ?? 2000, timeoutMs, log,
  });
  const retentionRows = new PrismaRetentionRepository(prisma);
  const retentionDays = opts.outputRetentionDays ?? DEFAULT_OUTPUT_RETENTION_DAYS;
  const outputRetention = new OutputRetention({ rows: retentionRows, defaultDays: retentionDays });
  const sweeper = new RetentionSweeper({
    rows: retentionRows, store: opts.store, log: log.child({ component: "retention" }), defaultDays: retentionDays,
    intervalMs: opts.retentionSweepIntervalMs ?? DEFAULT_RETENTION_SWEEP_INTERVAL_MS,
  });
  const limiter = new RedisRequestLimiter(redis, opts.queuePrefix);
  const defaults = { ...DEFAULT_LIMITS, ...definedOnly(opts.limits) };
  const wsTickets = new WsTickets(redis, opts.queuePrefix);
  // On the health checks' connection: its command timeout bounds a GET's wait on a position.
  const queuePositions = new QueuePositions({ standings: new RedisQueueStandings(redis, opts.queuePrefix), log });
  // The same key checks, rate limit and views as the HTTP routes'.
  const sockets = new JobSockets({
    auth: new Authenticate({ keys: apiKeys, log, rateLimits: { limiter, defaultPerMinute: defaults.rateLimitPerMinute } }), tickets: wsTickets,
    presenter: new JobPresenter({ store: opts.store, publicUrl: opts.publicUrl, outputUrlTtlSeconds: opts.outputUrlTtlSeconds, log, positions: queuePositions, retention: outputRetention }),
    jobs, events, log: log.child({ component: "ws" }), heartbeatMs: opts.wsHeartbeatMs, metrics: processRegistry(),
    positionIntervalMs: opts.positionIntervalMs,
  });
  const app = createApp({
    log, publicUrl: opts.publicUrl, maxUploadBytes: opts.maxUploadBytes, outputUrlTtlSeconds: opts.outputUrlTtlSeconds,
    modelUploadMaxBytes: opts.modelUploadMaxBytes, modelInspector: new OnnxInspector({ timeoutMs: opts.modelLoadTimeoutMs ?? 60_000 }), modelTmpDir: opts.modelTmpDir,
    jobs: jobRows, idempotencyKeys, apiKeys, tenants, cluster, store: opts.store, events, streams, fileUrlSigner: opts.fileUrlSigner, inputBuckets: opts.inputBuckets,
    sseKeepaliveMs: opts.sseKeepaliveMs, health, wsTickets, webhooks: webhooks.app, queuePositions, positionIntervalMs: opts.positionIntervalMs, outputRetention,
    batchItems: new RedisBatchItems(redis, opts.queuePrefix), consoleDir: opts.consoleDir, uploadFilenames,
    // On the health checks' connection: its command timeout bounds the wait on the pools' history.
    pools: { pools: new KubePools(kc), history: new RedisPoolHistory(redis, opts.queuePrefix) },
    // On the health checks' connection: its command timeout bounds a request's wait on the limiter.
    limits: {
      defaults, requests: limiter, uploads: new RedisUploadCounter(redis, opts.queuePrefix),
    },
    readiness: {
      postgres: () => pingDatabase(prisma),
      apiserver: () => cluster.ping(),
      mirror: () => (mirror.synced ? Promise.resolve() : Promise.reject(new Error("the job mirror has not listed ImageJobs yet"))),
      storage: () => health.verify("storage"),
      redis: () => health.verify("redis"),
    },
  });
  let prune: NodeJS.Timeout | undefined;
  return {
    app, prisma, jobs, idempotencyKeys, apiKeys, tenants, events, mirror, sockets, health, sweeper, webhooks,
    async prepare() {
      const platform = await tenants.ensure({ name: PLATFORM_TENANT, namespace: platformNamespace });
      if (opts.adminKey === undefined) return;
      await apiKeys.ensure({ tenantId: platform.id, name: "bootstrap admin (PIXELMILL_ADMIN_KEY)", prefix: apiKeyPrefix(opts.adminKey), hash: hashApiKey(opts.adminKey), scopes: ["admin"] });
      log.info({ tenant: platform.name, namespace: platform.namespace, key: apiKeyPrefix(opts.adminKey) }, "Bootstrap admin key stored");
    },
    start() {
      mirror.start();
      health.start();
      progress.start();
      sweeper.start();
      webhooks.sender?.start();
      // Keys past their 24 h answer nothing; pruning them keeps the table small. Best effort, hourly.
      prune = setInterval(() => {
        idempotencyKeys.prune(new Date(Date.now() - 24 * 3600_000)).catch((err: unknown) => log.warn({ err }, "Could not prune Idempotency-Keys"));
        uploadFilenames.prune(new Date(Date.now() - 7 * 24 * 3600_000)).catch((err: unknown) => log.warn({ err }, "Could not prune upload filenames"));
      }, 3600_000);
      prune.unref();
    },
    closeStreams() {
      streams.closeAll();
      sockets.closeAll();
    },
    async stop() {
      clearInterval(prune);
      await sweeper.stop();
      health.stop();
      streams.closeAll();
      sockets.closeAll();
      await mirror.stop();
      progress.stop();
      await webhooks.sender?.stop();
      redis.disconnect();
      await prisma.$disconnect();
    },
  };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
