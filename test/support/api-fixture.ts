import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import express from "express";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, type ImageJob, type ImageJobSpec } from "../../common/crd-types.js";
import { INPUT_BUCKETS_ANNOTATION } from "../../common/job/input-grants.js";
import { createLogger } from "../../common/logger.js";
import { createObjectStore, FileObjectStore, UrlSigner, type ObjectStore } from "../../common/storage/index.js";
import { migrate } from "../../prisma/migrate.js";
import { createTestDatabase } from "./database.js";
import { kubeConfig, testEnv, uniqueName } from "./env.js";
import { assembleApi } from "../../api/assemble.js";
import type { Limits } from "../../api/domain/limits.js";
import type { WebhookOptions } from "../../api/outbox/assemble-webhooks.js";
import type { PrismaIdempotencyRepository } from "../../api/data/idempotency-repository.js";
import type { PrismaJobRepository } from "../../api/data/job-repository.js";
import type { PrismaClient } from "../../api/data/prisma.js";
import type { JobEvents } from "../../api/domain/job-events.js";
import type { JobSockets } from "../../api/http/ws/job-sockets.js";
import { PLATFORM_TENANT, type Scope } from "../../api/domain/principal.js";
import type { PrismaApiKeyRepository } from "../../api/data/api-key-repository.js";
import type { PrismaTenantRepository } from "../../api/data/tenant-repository.js";
import { apiKeyPrefix, generateApiKey, hashApiKey } from "../../common/auth/api-key.js";
import { instrumentKubeConfig } from "../../common/kube/kube-metrics.js";

const migrationsDir = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

/** The API of one test file on the real parts: its own namespace, database and key prefix. */
export interface ApiFixture {
  url: string;
  /** The platform namespace (PIXELMILL_NAMESPACE), holding the model `resize-x2`: the fixture's tenant's namespace. */
  namespace: string;
  /** A key of the fixture's tenant (the platform tenant) with jobs:write, jobs:read and models:read. */
  key: string;
  /** The bootstrap admin key (PIXELMILL_ADMIN_KEY). */
  adminKey: string;
  /** fetch with `Authorization: Bearer <key>` unless `init` sends an Authorization header itself. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** A new key of the fixture's tenant, or of `tenantId`, stored directly. */
  newKey(scopes: Scope[], opts?: { tenantId?: string; expiresAt?: Date }): Promise<{ id: string; key: string }>;
  /** Another tenant, made through the API with the admin key (its namespace is removed by stop()), and a key of it with the job and model scopes. */
  newTenant(label: string): Promise<{ name: string; namespace: string; key: string }>;
  apiKeys: PrismaApiKeyRepository;
  tenants: PrismaTenantRepository;
  /** The fixture's database, e.g. for a second app over it. */
  databaseUrl: string;
  kc: KubeConfig;
  custom: CustomObjectsApi;
  store: ObjectStore;
  /** The store's key prefix in the test bucket (S3 stores). */
  prefix: string;
  prisma: PrismaClient;
  jobs: PrismaJobRepository;
  idempotencyKeys: PrismaIdempotencyRepository;
  events: JobEvents;
  /** /v1/ws: its open connections (size). */
  sockets: JobSockets;
  /** Keys under the store's prefix, read from S3 directly. */
  listKeys(): Promise<string[]>;
  createJob(name: string, spec?: Partial<ImageJobSpec>): Promise<ImageJob>;
  stop(): Promise<void>;
}

export interface FixtureOptions {
  maxUploadBytes?: number;
  /** MODEL_UPLOAD_MAX_BYTES of POST /v1/models; default the configured 512 MiB. */
  modelUploadMaxBytes?: number;
  /** Where POST /v1/models keeps a request's files while checking them (a test's own, to see them removed). */
  modelTmpDir?: string;
  /** A file store in this folder, signing URLs with this secret, instead of S3. */
  fileStore?: { root: string; secret: string };
  sseKeepaliveMs?: number;
  /** Between reads of a followed waiting job's queue position (SSE and WebSocket); default 5 s. */
  positionIntervalMs?: number;
  /** Between the pings of /v1/ws (WS_HEARTBEAT_MS); default the configured 20 s. */
  wsHeartbeatMs?: number;
  /** Another S3 endpoint for the store (e.g. one that never answers), with these client deadlines. */
  s3?: { endpoint?: string; connectTimeoutMs?: number; requestTimeoutMs?: number };
  /** Another Redis for the API's health checks (default: the harness's). */
  redisUrl?: string;
  healthCheckIntervalMs?: number;
  healthCheckTimeoutMs?: number;
  /** Lower limits for the tests of them (ADR 0009); default: the configured defaults. */
  limits?: Partial<Limits>;
  /** MIRROR_DELETE_FINISHED_AFTER_SECONDS (ADR 0018); default the configured 30 s. */
  deleteFinishedAfterSeconds?: number;
  /** OUTPUT_RETENTION_DAYS and RETENTION_SWEEP_INTERVAL_MS of the API's sweeper; default the configured 7 days and 10 min. */
  outputRetentionDays?: number;
  retentionSweepIntervalMs?: number;
  /** The WEBHOOK_* settings (docs/webhooks.md); default: webhooks off. */
  webhooks?: WebhookOptions;
  /** CONSOLE_DIR: a built web console the API serves under `/`; default: none. */
  consoleDir?: string;
}

export async function startApi(label: string, opts: FixtureOptions = {}): Promise<ApiFixture> {
  const env = testEnv();
  // PUBLIC_URL is the listening address, known only once listening: the app goes in behind a shell.
  const shell = express();
  const server = await new Promise<Server>((resolve) => {
    const s = shell.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const log = createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" });
  const kc = kubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = uniqueName(label);
  // Granted the test bucket, as a platform admin would (common/job/input-grants.ts): the tests' s3:// inputs live there.
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace, annotations: { [INPUT_BUCKETS_ANNOTATION]: env.s3.bucket } } } });
  await custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace, plural: IMAGEMODEL_PLURAL,
    body: {
      apiVersion: API_VERSION, kind: "ImageModel", metadata: { name: "resize-x2" },
      spec: {
        source: { uri: "builtin:resize-x2" }, task: "image-to-image", input: { range: { min: 0, max: 1 } }, output: { kind: "image", scale: 2 },
        params: [{ name: "strength", type: "number", min: 0, max: 1, default: 0.5 }],
      },
    },
  });
  const db = await createTestDatabase(label);
  await migrate(db.url, { migrationsDir });
  const prefix = uniqueName(label);
  const s3 = {
    S3_ENDPOINT: opts.s3?.endpoint ?? env.s3.endpoint, S3_REGION: env.s3.region, S3_ACCESS_KEY_ID: env.s3.accessKeyId, S3_SECRET_ACCESS_KEY: env.s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: true, S3_CONNECT_TIMEOUT_MS: opts.s3?.connectTimeoutMs, S3_REQUEST_TIMEOUT_MS: opts.s3?.requestTimeoutMs,
  };
  const signer = opts.fileStore && new UrlSigner({ baseUrl: `${url}/v1/files`, secret: opts.fileStore.secret });
  const store = opts.fileStore
    ? new FileObjectStore(opts.fileStore.root, { signer })
    : createObjectStore({ ...s3, STORAGE_URL: `s3://${env.s3.bucket}/${prefix}` });
  const adminKey = generateApiKey("test");
  const api = assembleApi({
    // Its own KubeConfig, instrumented as api/main.ts does: the test's own requests are not the API's.
    kc: instrumentKubeConfig(kubeConfig(), "api"), platformNamespace: namespace, adminKey, databaseUrl: db.url, redisUrl: opts.redisUrl ?? env.redisUrl, queuePrefix: prefix, store, log, publicUrl: url, maxUploadBytes: opts.maxUploadBytes ?? 10 * 1024 * 1024, modelUploadMaxBytes: opts.modelUploadMaxBytes, modelTmpDir: opts.modelTmpDir,
    outputUrlTtlSeconds: 600, fileUrlSigner: signer, sseKeepaliveMs: opts.sseKeepaliveMs, positionIntervalMs: opts.positionIntervalMs, wsHeartbeatMs: opts.wsHeartbeatMs, watchTimeoutSeconds: 60,
    healthCheckIntervalMs: opts.healthCheckIntervalMs, healthCheckTimeoutMs: opts.healthCheckTimeoutMs, limits: opts.limits,
    deleteFinishedAfterSeconds: opts.deleteFinishedAfterSeconds, outputRetentionDays: opts.outputRetentionDays, retentionSweepIntervalMs: opts.retentionSweepIntervalMs,
    webhooks: opts.webhooks, consoleDir: opts.consoleDir,
  });
  const { prisma, jobs, idempotencyKeys, apiKeys, tenants, events, mirror } = api;
  await api.prepare();
  api.start();
  const platform = (await tenants.byName(PLATFORM_TENANT))!;
  const newKey = async (scopes: Scope[], o: { tenantId?: string; expiresAt?: Date } = {}) => {
    const key = generateApiKey("test");
    const record = await apiKeys.create({ tenantId: o.tenantId ?? platform.id, name: `test ${scopes.join(" ")}`, prefix: apiKeyPrefix(key), hash: hashApiKey(key), scopes, expiresAt: o.expiresAt });
    return { id: record.id, key };
  };
  const key = (await newKey(["jobs:write", "jobs:read", "models:read"])).key;
  const withKey = (input: string | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  };
  const tenantNamespaces: string[] = [];
  shell.use(api.app);
  // WebSockets (/v1/ws) on the same server, as api/main.ts does.
  api.sockets.attach(server);
  const s3client = new S3Client({ endpoint: env.s3.endpoint, region: env.s3.region, forcePathStyle: true, credentials: { accessKeyId: env.s3.accessKeyId, secretAccessKey: env.s3.secretAccessKey } });
  await eventually(() => mirror.synced, "the mirror to sync");

  return {
    url, namespace, key, adminKey, databaseUrl: db.url, fetch: withKey, newKey, apiKeys, tenants, kc, custom, store, prefix, prisma, jobs, idempotencyKeys, events, sockets: api.sockets,
    async newTenant(tenantLabel) {
      const name = uniqueName(tenantLabel);
      const admin = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
      const res = await fetch(`${url}/v1/tenants`, { method: "POST", headers: admin, body: JSON.stringify({ name }) });
      if (res.status !== 201) throw new Error(`POST /v1/tenants answered ${res.status}: ${await res.text()}`);
      const tenant = (await res.json()) as { namespace: string };
      tenantNamespaces.push(tenant.namespace);
      const made = await fetch(`${url}/v1/keys`, { method: "POST", headers: admin, body: JSON.stringify({ name: "test", tenant: name, scopes: ["jobs:write", "jobs:read", "models:read"] }) });
      if (made.status !== 201) throw new Error(`POST /v1/keys answered ${made.status}: ${await made.text()}`);
      return { name, namespace: tenant.namespace, key: ((await made.json()) as { key: string }).key };
    },
    async listKeys() {
      const out = await s3client.send(new ListObjectsV2Command({ Bucket: env.s3.bucket, Prefix: `${prefix}/` }));
      return (out.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1));
    },
    async createJob(name, spec = {}) {
      const body: ImageJob = {
        apiVersion: API_VERSION, kind: "ImageJob", metadata: { name },
        spec: { model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, ...spec },
      };
      return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body })) as ImageJob;
    },
    async stop() {
      api.closeStreams();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.stop();
      store.close();
      s3client.destroy();
      await db.drop();
      for (const ns of [namespace, ...tenantNamespaces]) await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
    },
  };
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/** Polls `check` until it returns something truthy (or stops throwing). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 50));
  }
}
