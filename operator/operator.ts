import type { KubeConfig, V1Namespace } from "@kubernetes/client-node";
import type { ImageJob, ImageModel } from "../common/crd-types.js";
import type { Logger } from "../common/logger.js";
import { createRedis } from "../common/redis.js";
import { JobCanceler } from "./controllers/imagejob/cancel-jobs.js";
import { CancelSweep } from "./controllers/imagejob/cancel-sweep.js";
import { Controller, keyOf } from "./runtime/controller.js";
import { ImageJobApi } from "./controllers/imagejob/imagejob-api.js";
import { startableInformer } from "../common/kube/informer.js";
import { ImageJobReconciler } from "./controllers/imagejob/imagejob-reconciler.js";
import { IMAGEJOB_PHASES, isFinished } from "../common/job/phases.js";
import { operatorMetrics, type Registry } from "../common/metrics.js";
import { JobQueue } from "./job-queue.js";
import { NotificationListener } from "./controllers/imagejob/notifications.js";
import { startWorkerPools } from "./controllers/workerpool/workerpools.js";
import { NO_WORKER_POOL } from "./controllers/imagejob/imagejob-status.js";
import { BatchItems } from "./controllers/imagejob/batch-items.js";
import { BatchReconciler } from "./controllers/imagejob/batch-reconciler.js";
import { BatchNotifyThrottle } from "./controllers/imagejob/batch-throttle.js";
import { DEFAULT_BATCH_KEYS_TTL_SECONDS, DEFAULT_BATCH_MAX_ITEMS, DEFAULT_BATCH_STATUS_INTERVAL_MS } from "../common/batch.js";
import { allowedInputBuckets } from "../common/job/input-uri.js";
import { storeRoot } from "../common/job/input-access.js";
import type { ObjectStore } from "../common/storage/index.js";

export interface OperatorOptions {
  kc: KubeConfig;
  redisUrl: string;
  queuePrefix: string;
  /** Watch one namespace; all namespaces when undefined. */
  namespace?: string;
  /** PIXELMILL_NAMESPACE: the shared ImageModels, used by jobs of namespaces without their own model of that name. */
  platformNamespace?: string;
  log: Logger;
  /** OPERATOR_RECONCILE_WORKERS: ImageJobs reconciled at once (16 when absent). */
  workers?: number;
  resyncMs?: number;
  /** First retry delay of a failed attempt; doubles each time. */
  retryBaseDelayMs?: number;
  /** Queue jobs younger than this are never taken for missed deletes (operator/cancel-sweep.ts); 60 s. */
  cancelSweepGraceMs?: number;
  /** How often WorkerPools are re-planned without an event; 5 s. */
  poolResyncMs?: number;
  /**
   * The platform's store and the stores of `s3://` buckets: batch jobs (docs/batch.md) list their
   * prefixes and write their manifests there. Without it, batch jobs fail InvalidSpec.
   */
  storage?: { store: ObjectStore; bucketStore: (bucket: string) => ObjectStore; inputBuckets?: readonly string[] };
  /** BATCH_STATUS_INTERVAL_MS, BATCH_MAX_ITEMS, BATCH_KEYS_TTL_SECONDS (common/batch.ts defaults). */
  batch?: { statusIntervalMs?: number; maxItems?: number; keysTtlSeconds?: number };
  /** Where the operator's metrics go (served on the ops server's /metrics); the process's registry by default. */
  registry?: Registry;
}

export interface Operator {
  stop(): Promise<void>;
}

/** Wires informers, the notification stream and the queue into the ImageJob and WorkerPool controllers. */
export async function startOperator(opts: OperatorOptions): Promise<Operator> {
  const log = opts.log.child({ component: "operator" });
  const api = new ImageJobApi(opts.kc, opts.namespace);
  const redis = createRedis(opts.redisUrl, { log, connectionName: "pixelmill-operator" });
  const notifyRedis = createRedis(opts.redisUrl, { log, connectionName: "pixelmill-operator-notify" });
  const queue = new JobQueue(redis, opts.queuePrefix);
  // Informer handlers fire only after start(), by which time the controller exists.
  const enqueue = (o: ImageJob) => controller.add(keyOf(o));
  const batchIntervalMs = opts.batch?.statusIntervalMs ?? DEFAULT_BATCH_STATUS_INTERVAL_MS;
  const keysTtlSeconds = opts.batch?.keysTtlSeconds ?? DEFAULT_BATCH_KEYS_TTL_SECONDS;
  const items = opts.storage && new BatchItems(redis, opts.queuePrefix, opts.storage.store);
  const canceler = new JobCanceler(redis, queue, opts.queuePrefix, log, items && { items, keysTtlSeconds });
  const batches = opts.storage && items && new BatchReconciler({
    items, queue, store: opts.storage.store, bucketStore: opts.storage.bucketStore,
    bucketRule: { allowed: allowedInputBuckets(opts.storage.inputBuckets, opts.storage.store), root: storeRoot(opts.storage.store) },
    maxItems: opts.batch?.maxItems ?? DEFAULT_BATCH_MAX_ITEMS, statusIntervalMs: batchIntervalMs, keysTtlSeconds, log, now: () => new Date(),
    onEnqueued: (m) => pools.wake(m),
  });
  // Deleting an ImageJob that has not finished cancels it (no finalizer: it would cost a write per job).
  const cancel = (o: ImageJob) => {
    reconciler.forgetWrites(o);
    batches?.forget(o.metadata.uid!);
    if (isFinished(o.status?.phase)) return;
    const { uid, namespace, name } = o.metadata as { uid: string; namespace: string; name: string };
    canceler.cancel({ uid, namespace, name, model: o.spec.model }).catch((err: Error) =>
      log.warn({ job: keyOf(o), jobUid: uid, err: err.message }, "Could not cancel the deleted job; the sweep will"));
  };
  // The echo of our own status write is not reconciled again (ImageJobReconciler.isOwnWrite).
  const changed = (o: ImageJob) => reconciler.isOwnWrite(o) || enqueue(o);
  const jobs = startableInformer<ImageJob>(opts.kc, api.jobsPath(), api.listJobs, { onChange: changed, onDelete: cancel }, { log });
  const models = startableInformer<ImageModel>(opts.kc, api.modelsPath(), api.listModels, {
    // A job whose model appears (or changes) is looked at again; a platform model serves every namespace.
    onChange: (m) => jobs.list(m.metadata.namespace === opts.platformNamespace ? undefined : m.metadata.namespace).filter((j) => j.spec.model === m.metadata.name).forEach(enqueue),
  }, { log });
  // Only read when a job is enqueued: a changed grant applies to jobs enqueued after it.
  const namespaces = startableInformer<V1Namespace>(opts.kc, api.namespacesPath(), api.listNamespaces, { onChange: () => {} }, { log });
  const metrics = operatorMetrics(opts.registry);
  const reconciler = new ImageJobReconciler({ jobs, models, namespaces, platformNamespace: opts.platformNamespace, api, queue, log, retryBaseDelayMs: opts.retryBaseDelayMs, onEnqueued: (m) => pools.wake(m), serves: (m) => pools.serves(m), metrics, requeue: (k) => controller.add(k), batches });
  const controller = new Controller("imagejob", reconciler, log, {
    workers: opts.workers ?? 16,
    resyncMs: opts.resyncMs ?? 30_000,
    keys: () => jobs.list().map(keyOf),
    metrics,
  });
  const pools = await startWorkerPools({
    kc: opts.kc, namespace: opts.namespace, redis, queue, queuePrefix: opts.queuePrefix, log, resyncMs: opts.poolResyncMs, metrics,
    // A pool that now lists a model: its waiting jobs stop saying that none does.
    onPoolChange: (pool) => jobs.list().filter((j) => j.status?.reason === NO_WORKER_POOL && pool.spec.models.includes(j.spec.model)).forEach(enqueue),
  });
  // Counted from the cache when /metrics is scraped, never per event.
  const stopCountingPhases = metrics.phaseJobs.add(() => jobsByPhase(jobs.list()));
  // Models and namespaces first, so the first reconcile of a job finds its model and grants in the cache.
  await Promise.all([models.start(), namespaces.start()]);
  await jobs.start();
  jobs.list().forEach(enqueue);
  // A batch's items notify on every start and end: its key is reconciled at the status cadence instead.
  const throttle = new BatchNotifyThrottle(batchIntervalMs, (key) => controller.add(key));
  const listener = new NotificationListener(notifyRedis, opts.queuePrefix, (n) => {
    if (n.batchIndex === undefined) controller.add(`${n.namespace}/${n.name}`);
    else throttle.notify(`${n.namespace}/${n.name}`);
    if (n.model) pools.wake(n.model); // a job started or ended: in-flight counts and the scale-down window moved
  }, log);
  listener.start();
  controller.start();
  const sweep = new CancelSweep({
    queue, cancel: (t) => canceler.cancel(t), known: () => new Set(jobs.list().map((j) => j.metadata.uid!)),
    exists: (ns, name, uid) => api.jobExists(ns, name, uid), namespace: opts.namespace,
    graceMs: opts.cancelSweepGraceMs ?? 60_000, intervalMs: opts.resyncMs ?? 30_000, log,
  });
  sweep.start();
  log.info({ namespace: opts.namespace ?? "(all)", jobs: jobs.list().length, models: models.list().length }, "Operator started");
  return {
    stop: async () => {
      stopCountingPhases();
      await listener.stop();
      throttle.stop();
      await sweep.stop();
      await controller.stop();
      await pools.stop();
      await Promise.all([jobs.stop(), models.stop(), namespaces.stop()]);
      await queue.close();
      redis.disconnect();
      log.info("Operator stopped");
    },
  };
}

/** Every phase with its count (0 when none); a job with no status yet is Pending. */
function jobsByPhase(jobs: readonly ImageJob[]): [{ phase: string }, number][] {
  const counts = new Map<string, number>(IMAGEJOB_PHASES.map((p) => [p, 0]));
  for (const job of jobs) {
    const phase = job.status?.phase ?? "Pending";
    if (counts.has(phase)) counts.set(phase, counts.get(phase)! + 1);
  }
  return [...counts].map(([phase, count]) => [{ phase }, count]);
}
