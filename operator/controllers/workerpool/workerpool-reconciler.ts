import type { V1Deployment } from "@kubernetes/client-node";
import { autoscalingOf, type WorkerPool } from "../../../common/crd-types.js";
import type { Logger } from "../../../common/logger.js";
import { planPools, TargetWindow, type PoolInput, type PoolPlan } from "./autoscaler.js";
import { keyOf, type Reconciler } from "../../runtime/controller.js";
import type { JobQueue } from "../../job-queue.js";
import type { Informer } from "../../../common/kube/informer.js";
import type { WorkerPoolApi } from "./workerpool-api.js";
import { DELETION_COST_ANNOTATION, deploymentName, TEMPLATE_HASH_ANNOTATION, workerDeployment } from "./worker-deployment.js";
import { OwnWrites } from "../../runtime/own-writes.js";
import type { PoolPresence, PresenceReader } from "./worker-presence.js";
import { poolStatus, statusWriteDue, type ScaleEvent } from "./workerpool-status.js";
import { readDemand } from "./demand-reading.js";
import { operatorMetrics, type OperatorMetrics } from "../../../common/metrics.js";
import type { PoolSampler } from "./pool-sampler.js";

export interface WorkerPoolReconcilerDeps {
  pools: Informer<WorkerPool>;
  deployments: Informer<V1Deployment>;
  api: WorkerPoolApi;
  queue: JobQueue;
  presence: PresenceReader;
  log: Logger;
  now?: () => Date;
  /** Least time between two status writes that change only queue numbers. */
  statusIntervalMs?: number;
  /** The queue gauges (waiting jobs, oldest's age), decisions and replicas of each plan; the process's registry by default. */
  metrics?: OperatorMetrics;
  /** Records each pool's replicas and demand for the console's last-hour chart; none: not recorded. */
  sampler?: PoolSampler;
}

/**
 * Reconciles one WorkerPool: its Deployment (applied when the template or the replicas must
 * change) and its status. The replicas come from a plan over every pool (autoscaler.ts), since
 * pools serving the same model share its queue. Scale-down first marks busy pods expensive to
 * delete (pod-deletion-cost), so the ReplicaSet removes idle workers; removed workers drain.
 */
export class WorkerPoolReconciler implements Reconciler {
  private readonly now: () => Date;
  /** Per pool: the latest job end seen, kept after the pod that reported it is gone. */
  private readonly lastDone = new Map<string, number>();
  /** Each pool's recent plan targets: the floor of a scale-down (autoscaler.ts). */
  private readonly targets = new Map<string, TargetWindow>();
  private readonly lastStatusWrite = new Map<string, number>();
  /** Replicas and template hash we applied, until the Deployment cache shows them. */
  private readonly applied = new OwnWrites<{ replicas: number; hash: string }>();
  /** Status we wrote, until the WorkerPool cache shows it. */
  private readonly statusWritten = new OwnWrites<WorkerPool["status"]>();
  private readonly metrics: OperatorMetrics;

  constructor(private readonly deps: WorkerPoolReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.metrics = deps.metrics ?? operatorMetrics();
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [namespace, name] = key.split("/") as [string, string];
    const pool = this.deps.pools.get(namespace, name);
    if (!pool || pool.metadata.deletionTimestamp) {
      this.lastDone.delete(key); // the Deployment goes with it (owner reference)
      this.targets.delete(key);
      this.lastStatusWrite.delete(key);
      this.applied.forget(key);
      this.statusWritten.forget(key);
      this.deps.sampler?.forget(namespace, name);
      for (const gauge of [this.metrics.desiredReplicas, this.metrics.readyReplicas]) gauge.remove({ pool: key });
      return {};
    }
    const now = this.now();
    const { plans, presence } = await this.plan(now.getTime());
    const plan = plans.get(key)!;
    const deployment = this.deps.deployments.get(namespace, deploymentName(name));
    const desired = workerDeployment(pool);
    const hash = desired.metadata!.annotations![TEMPLATE_HASH_ANNOTATION]!;
    const { replicas: current, hash: currentHash } = this.deployed(key, deployment) ?? {};
    let scaled: ScaleEvent | undefined;
    if (currentHash !== hash || current !== plan.replicas) {
      if (current !== undefined && plan.replicas < current) await this.protectBusyPods(namespace, name, presence.get(key)!);
      await this.deps.api.applyDeployment(desired, plan.replicas);
      this.applied.remember(key, deployment?.metadata?.resourceVersion ?? "", { replicas: plan.replicas, hash });
      if ((current ?? 0) !== plan.replicas) {
        scaled = { time: now, reason: plan.reason };
        this.deps.log.info({ pool: key, from: current ?? 0, to: plan.replicas, waiting: plan.waiting, inFlight: plan.inFlight, reason: plan.reason }, "Scaled worker pool");
      }
    }
    this.record(key, current ?? 0, plan.replicas, deployment); // once the Deployment has what the plan asked
    const seen = { ...pool, status: this.statusWritten.pending(key, pool.metadata.resourceVersion) ?? pool.status };
    const status = poolStatus(seen, plan, deployment, scaled, now, autoscalingOf(pool.spec).maxReplicas);
    const due = statusWriteDue(seen.status, status, this.lastStatusWrite.get(key), now.getTime(), this.deps.statusIntervalMs ?? 2000);
    if (due === 0) {
      await this.deps.api.patchStatus(pool, status);
      this.statusWritten.remember(key, pool.metadata.resourceVersion, status);
      this.lastStatusWrite.set(key, now.getTime());
    }
    await this.deps.sampler?.record(namespace, name, {
      at: now.getTime(), desired: status.desiredReplicas ?? 0, ready: status.readyReplicas ?? 0, pending: status.pendingReplicas ?? 0,
      waiting: status.waiting ?? 0, inFlight: status.inFlight ?? 0,
    });
    const waits = [plan.recheckInMs, due || undefined].filter((n): n is number => n !== undefined);
    return waits.length ? { requeueAfterMs: Math.min(...waits) } : {};
  }

  /** One autoscaler decision per evaluation, and the pool's desired and ready replicas. */
  private record(pool: string, current: number, desired: number, deployment: V1Deployment | undefined): void {
    this.metrics.decisions.inc({ pool, direction: desired > current ? "up" : desired < current ? "down" : "hold" });
    this.metrics.desiredReplicas.set({ pool }, desired);
    this.metrics.readyReplicas.set({ pool }, deployment?.status?.readyReplicas ?? 0);
  }

  /** The Deployment's replicas and template hash: our last apply until the cache shows it. */
  private deployed(key: string, deployment: V1Deployment | undefined): { replicas: number; hash: string | undefined } | undefined {
    const mine = this.applied.pending(key, deployment?.metadata?.resourceVersion ?? "");
    if (mine) return mine;
    return deployment ? { replicas: deployment.spec?.replicas ?? 0, hash: deployment.metadata?.annotations?.[TEMPLATE_HASH_ANNOTATION] } : undefined;
  }

  /** Keys of the pools serving `model`: an enqueue or a finished job re-plans them at once. */
  poolsServing(model: string): string[] {
    return this.deps.pools.list().filter((p) => p.spec.models.includes(model)).map(keyOf);
  }

  private async plan(nowMs: number): Promise<{ plans: Map<string, PoolPlan>; presence: Map<string, PoolPresence> }> {
    const pools = this.deps.pools.list().filter((p) => !p.metadata.deletionTimestamp);
    const models = [...new Set(pools.flatMap((p) => p.spec.models))];
    const { presence: presences, waiting } = await readDemand(
      () => Promise.all(pools.map((p) => this.deps.presence.read(p.metadata.namespace!, p.metadata.name!))),
      () => Promise.all(models.map(async (m) => [m, await this.deps.queue.waiting(m)] as const)),
    );
    await this.recordQueues(waiting, nowMs);
    const presence = new Map(pools.map((p, i) => [keyOf(p), presences[i]!]));
    const inputs = pools.map((p): PoolInput => {
      const key = keyOf(p);
      const seen = presence.get(key)!;
      const done = Math.max(this.lastDone.get(key) ?? 0, seen.lastDone ?? 0);
      if (done) this.lastDone.set(key, done);
      const scaledAt = Date.parse(p.status?.lastScaleTime ?? "");
      const activity = Math.max(done, Number.isFinite(scaledAt) ? scaledAt : 0);
      const { minReplicas, maxReplicas, targetJobsPerReplica, scaleDownWindowSeconds } = autoscalingOf(p.spec);
      return {
        key,
        models: p.spec.models,
        priority: p.spec.priority ?? 0,
        minReplicas,
        maxReplicas,
        targetJobsPerReplica,
        scaleDownWindowMs: scaleDownWindowSeconds * 1000,
        replicas: this.deployed(key, this.deps.deployments.get(p.metadata.namespace!, deploymentName(p.metadata.name!)))?.replicas ?? 0,
        inFlight: seen.inFlight,
        busyWorkers: seen.busyWorkers,
        lastActivity: activity || undefined,
        recentTargets: this.targets.get(key)?.recent,
      };
    });
    const plans = planPools(inputs, new Map(waiting), nowMs);
    for (const input of inputs) {
      const window = this.targets.get(input.key) ?? new TargetWindow();
      window.add(nowMs, plans.get(input.key)!.target, input.scaleDownWindowMs);
      this.targets.set(input.key, window);
    }
    return { plans, presence };
  }

  /** The queue gauges from this plan's reading; the oldest job's age is read only where jobs wait. */
  private async recordQueues(waiting: readonly (readonly [string, number])[], nowMs: number): Promise<void> {
    await Promise.all(waiting.map(async ([model, count]) => {
      const oldest = count > 0 ? await this.deps.queue.oldestWaiting(model) : undefined;
      this.metrics.waitingJobs.set({ model }, count);
      this.metrics.oldestWaitingAge.set({ model }, oldest === undefined ? 0 : Math.max(0, nowMs - oldest) / 1000);
    }));
  }

  /**
   * Busy workers get a pod-deletion-cost of 1000 per job in hand, idle ones 0, so the ReplicaSet
   * removes idle pods first. A pod that takes a job between this and the scale-down still
   * finishes it: removed workers drain within their grace period.
   */
  private async protectBusyPods(namespace: string, pool: string, presence: PoolPresence): Promise<void> {
    const pods = await this.deps.api.podsOf(namespace, pool);
    await Promise.all(pods.filter((pod) => !pod.metadata?.deletionTimestamp).map(async (pod) => {
      const cost = String(1000 * (presence.busyByPod.get(pod.metadata!.name!) ?? 0));
      if (pod.metadata?.annotations?.[DELETION_COST_ANNOTATION] === cost) return;
      await this.deps.api.annotatePod(namespace, pod.metadata!.name!, { [DELETION_COST_ANNOTATION]: cost });
    }));
  }
}
