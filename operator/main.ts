import { KubeConfig } from "@kubernetes/client-node";
import { loadConfig } from "../common/config.js";
import { createLogger } from "../common/logger.js";
import { hostname } from "node:os";
import { startOperator, type Operator } from "./operator.js";
import { startLeaderElection } from "./runtime/leader-election.js";
import { startOpsServer } from "../common/ops-server.js";
import { shareConnections } from "../common/kube/kube-connections.js";
import { instrumentKubeConfig } from "../common/kube/kube-metrics.js";
import { createObjectStore } from "../common/storage/index.js";
import { BucketStores } from "../common/storage/bucket-stores.js";

const config = loadConfig();
const log = createLogger({ level: config.LOG_LEVEL, name: "pixelmill-operator" });
const kc = new KubeConfig();
kc.loadFromDefault(); // KUBECONFIG, else ~/.kube/config, else the in-cluster service account
shareConnections(kc); // one kept TLS connection, not a new one per request
instrumentKubeConfig(kc, "operator"); // pixelmill_kube_api_requests_total, leader election included
let stopping = false;
const health = config.HEALTH_PORT === 0 ? undefined : await startOpsServer(config.HEALTH_PORT, () => (stopping ? "shutting down" : "ready"), log);
// Batch jobs list their prefixes and write their manifests here (docs/batch.md).
const store = createObjectStore(config);
const buckets = new BucketStores(config);
let starting: Promise<Operator> | undefined;
const start = () => (starting ??= startOperator({
  kc,
  redisUrl: config.REDIS_URL,
  queuePrefix: config.QUEUE_PREFIX,
  namespace: config.PIXELMILL_WATCH_NAMESPACE,
  platformNamespace: config.PIXELMILL_NAMESPACE,
  workers: config.OPERATOR_RECONCILE_WORKERS,
  storage: { store, bucketStore: buckets.for, inputBuckets: config.INPUT_BUCKETS },
  batch: { statusIntervalMs: config.BATCH_STATUS_INTERVAL_MS, maxItems: config.BATCH_MAX_ITEMS, keysTtlSeconds: config.BATCH_KEYS_TTL_SECONDS },
  log,
}));
/** Stops the controllers, if they were started (or are starting). */
const stopControllers = async () => {
  const operator = await starting?.catch(() => undefined);
  await operator?.stop();
};

// Only the leader reconciles and autoscales (ADR 0011). Leadership lost after leading: stop acting
// and exit non-zero, so Kubernetes restarts the pod clean as a standby (client-go's practice).
const elector = config.LEADER_ELECTION ? startLeaderElection({
  kc,
  namespace: config.LEADER_ELECTION_NAMESPACE ?? config.PIXELMILL_NAMESPACE,
  name: "pixelmill-operator",
  identity: config.POD_NAME ?? `${hostname()}-${process.pid}`,
  leaseDurationMs: config.LEADER_ELECTION_LEASE_DURATION_S * 1000,
  renewDeadlineMs: config.LEADER_ELECTION_RENEW_DEADLINE_S * 1000,
  retryPeriodMs: config.LEADER_ELECTION_RETRY_PERIOD_S * 1000,
  log,
  onStartedLeading: () => start().then(() => undefined, (err: unknown) => {
    log.fatal({ err }, "Operator did not start");
    process.exit(1);
  }),
  onStoppedLeading: async (reason) => {
    await stopControllers().catch((err: unknown) => log.error({ err }, "Operator did not stop cleanly"));
    if (reason === "lost") process.exit(1);
  },
}) : undefined;
if (!elector) await start();

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    // A leader releases its Lease (after stopping its controllers) so a standby takes over at once.
    (elector ? elector.stop() : stopControllers()).then(() => { health?.close(); process.exit(0); }, (err: unknown) => {
      log.error({ err }, "Operator did not stop cleanly");
      process.exit(1);
    });
  });
}
