import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { adminKey, loadConfig } from "../common/config.js";
import { inputBuckets } from "../common/job/input-uri.js";
import { createLogger } from "../common/logger.js";
import { createObjectStore, UrlSigner } from "../common/storage/index.js";
import { assembleApi } from "./assemble.js";
import { shareConnections } from "../common/kube/kube-connections.js";
import { instrumentKubeConfig } from "../common/kube/kube-metrics.js";

const config = loadConfig();
const bootstrapKey = adminKey(config); // fails fast on a malformed key, before anything starts
const log = createLogger({ level: config.LOG_LEVEL, name: "pixelmill-api" });
const kc = new KubeConfig();
kc.loadFromDefault(); // KUBECONFIG, else ~/.kube/config, else the in-cluster service account
shareConnections(kc); // one kept TLS connection, not a new one per request
instrumentKubeConfig(kc, "api"); // pixelmill_kube_api_requests_total

const platformNamespace = config.PIXELMILL_NAMESPACE;
const fileUrlSigner = config.STORAGE_URL.startsWith("file:") ? new UrlSigner({ baseUrl: `${config.PUBLIC_URL.replace(/\/+$/, "")}/v1/files`, secret: signingSecret() }) : undefined;
const store = createObjectStore(config, { fileUrlSigner });
const api = assembleApi({
  kc, platformNamespace, adminKey: bootstrapKey, databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL, queuePrefix: config.QUEUE_PREFIX, store, log, publicUrl: config.PUBLIC_URL,
  maxUploadBytes: config.MAX_UPLOAD_BYTES, modelUploadMaxBytes: config.MODEL_UPLOAD_MAX_BYTES, modelLoadTimeoutMs: config.MODEL_LOAD_TIMEOUT_MS, outputUrlTtlSeconds: config.OUTPUT_URL_TTL_SECONDS, fileUrlSigner, inputBuckets: inputBuckets(config),
  deleteFinishedAfterSeconds: config.MIRROR_DELETE_FINISHED_AFTER_SECONDS, outputRetentionDays: config.OUTPUT_RETENTION_DAYS, retentionSweepIntervalMs: config.RETENTION_SWEEP_INTERVAL_MS, wsHeartbeatMs: config.WS_HEARTBEAT_MS, healthCheckIntervalMs: config.HEALTH_CHECK_INTERVAL_MS, healthCheckTimeoutMs: config.HEALTH_CHECK_TIMEOUT_MS,
  limits: { rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE, maxActiveJobs: config.TENANT_MAX_ACTIVE_JOBS, maxUploadBytesPerDay: config.TENANT_MAX_UPLOAD_BYTES_PER_DAY },
  webhooks: {
    secretsKey: config.WEBHOOK_SECRETS_KEY, sender: config.WEBHOOK_SENDER, timeoutMs: config.WEBHOOK_TIMEOUT_MS, excerptBytes: config.WEBHOOK_RESPONSE_EXCERPT_BYTES,
    pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS, retryDelaysMs: config.WEBHOOK_RETRY_DELAYS_MS, graceSeconds: config.WEBHOOK_SECRET_GRACE_SECONDS, historyDays: config.WEBHOOK_HISTORY_DAYS,
    addressPolicy: config.WEBHOOK_ADDRESS_POLICY, allowHttp: config.WEBHOOK_ALLOW_HTTP,
  },
  consoleDir: config.CONSOLE_DIR ?? join(packageRoot(), "web", "dist"),
});
// The platform tenant and the bootstrap key are in Postgres before the first request.
await api.prepare();
api.start();
const server = api.app.listen(config.PORT, () => {
  log.info({ port: (server.address() as AddressInfo).port, platformNamespace, publicUrl: config.PUBLIC_URL }, "API listening");
});
// WebSockets (/v1/ws) on the same port.
api.sockets.attach(server);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, "API stopping");
    shutdown().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, "API did not stop cleanly");
      process.exit(1);
    });
  });
}

async function shutdown(): Promise<void> {
  // Stop accepting first; requests in flight finish, SSE streams and WebSockets would never end by themselves.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  api.closeStreams();
  server.closeIdleConnections();
  // An upload still arriving after this long is cut off rather than holding up the pod's exit.
  setTimeout(() => server.closeAllConnections(), 20_000).unref();
  await closed;
  await api.stop();
  store.close();
  log.info("API stopped");
}

/** URL_SIGNING_SECRET, or for a lone development process a random one (its links die with it). */
function signingSecret(): string {
  if (config.URL_SIGNING_SECRET) return config.URL_SIGNING_SECRET;
  log.warn("URL_SIGNING_SECRET is not set: signing file URLs with a random key, valid until this process ends");
  return randomBytes(32).toString("hex");
}

/** The folder of package.json above this file: the repository from source (tsx), /app from dist/ in the image. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
