import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import type { WorkerPool } from "../../../common/crd-types.js";
import type { Logger } from "../../../common/logger.js";
import { POOL_LABEL } from "./worker-deployment.js";
import { Controller, keyOf } from "../../runtime/controller.js";
import type { JobQueue } from "../../job-queue.js";
import { startableInformer } from "../../../common/kube/informer.js";
import { WORKER_SELECTOR, WorkerPoolApi } from "./workerpool-api.js";
import { PresenceReader } from "./worker-presence.js";
import { WorkerPoolReconciler } from "./workerpool-reconciler.js";
import { PoolSampler } from "./pool-sampler.js";
import type { OperatorMetrics } from "../../../common/metrics.js";

export interface WorkerPoolsOptions {
  kc: KubeConfig;
  namespace?: string;
  redis: Redis;
  queue: JobQueue;
  queuePrefix: string;
  log: Logger;
  /** How often every pool is re-planned without an event (presence expiry, clock). */
  resyncMs?: number;
  /** The process's registry's when absent. */
  metrics?: OperatorMetrics;
  /** Told when a pool is added or changed (after the informer's cache has it). */
  onPoolChange?: (pool: WorkerPool) => void;
}

export interface WorkerPools {
  /** Re-plans the pools serving `model` now: an enqueue wakes a pool at zero within one reconcile. */
  wake(model: string): void;
  /** True when a WorkerPool (not being deleted) lists `model` in spec.models. */
  serves(model: string): boolean;
  stop(): Promise<void>;
}

/** The WorkerPool controller: informers on pools and their Deployments, the autoscaler behind them. */
export async function startWorkerPools(opts: WorkerPoolsOptions): Promise<WorkerPools> {
  const log = opts.log.child({ controller: "workerpool" });
  const api = new WorkerPoolApi(opts.kc, opts.namespace);
  // A change to one pool can move demand between all pools sharing a model: re-plan them all.
  const all = () => pools.list().forEach((p) => controller.add(keyOf(p)));
  const pools = startableInformer<WorkerPool>(opts.kc, api.poolsPath(), api.listPools, { onChange: (p) => (all(), opts.onPoolChange?.(p)), onDelete: (p) => controller.add(keyOf(p)) }, { log });
  const ownerOf = (d: V1Deployment) => {
    const pool = d.metadata?.labels?.[POOL_LABEL];
    if (pool) controller.add(`${d.metadata?.namespace}/${pool}`);
  };
  const deployments = startableInformer<V1Deployment>(opts.kc, api.deploymentsPath(), api.listDeployments,
    { onChange: ownerOf, onDelete: ownerOf }, { log, labelSelector: WORKER_SELECTOR });
  const reconciler = new WorkerPoolReconciler({ pools, deployments, api, queue: opts.queue, presence: new PresenceReader(opts.redis, opts.queuePrefix), log, metrics: opts.metrics,
    sampler: new PoolSampler(opts.redis, opts.queuePrefix, log),
  });
  const controller = new Controller("workerpool", reconciler, log, {
    workers: 2,
    metrics: opts.metrics,
    resyncMs: opts.resyncMs ?? 5_000,
    keys: () => pools.list().map(keyOf),
  });
  await deployments.start();
  await pools.start();
  controller.start();
  all();
  return {
    wake: (model) => reconciler.poolsServing(model).forEach((k) => controller.add(k)),
    serves: (model) => pools.list().some((p) => !p.metadata.deletionTimestamp && p.spec.models.includes(model)),
    stop: async () => {
      await controller.stop();
      await Promise.all([pools.stop(), deployments.stop()]);
    },
  };
}
