import { AppsV1Api, type KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import type { ImageJob } from "../../common/crd-types.js";
import type { Logger } from "../../common/logger.js";
import { startableInformer, type Informer } from "../../common/kube/informer.js";
import { ImageJobApi } from "../../operator/controllers/imagejob/imagejob-api.js";

/** The pools' Deployments summed: replicas asked for (by the autoscaler) and Ready, at one moment. */
export interface ReplicasEvent {
  at: number;
  replicas: number;
  ready: number;
}

/**
 * What the bench times from watch events (performance.now() of this process): every change of
 * the worker Deployments, summed over the pools, and when each ImageJob was seen Succeeded.
 */
export class Timeline {
  readonly replicas: ReplicasEvent[] = [{ at: 0, replicas: 0, ready: 0 }];
  readonly succeeded = new Map<string, number>();
  readonly created = new Map<string, number>();
  private readonly deployments = new Map<string, { replicas: number; ready: number }>();
  private readonly informers: Array<Informer<V1Deployment> | Informer<ImageJob>> = [];

  /** Starts both informers (they relist and watch again on their own); resolves after their first lists. */
  async start(kc: KubeConfig, namespace: string, log: Logger): Promise<void> {
    const apps = kc.makeApiClient(AppsV1Api);
    const deployments = startableInformer<V1Deployment>(kc, `/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace }), {
      onChange: (d) => this.deployment(d.metadata!.name!, d),
      onDelete: (d) => this.deployment(d.metadata!.name!, undefined),
    }, { log });
    const api = new ImageJobApi(kc, namespace);
    const jobs = startableInformer<ImageJob>(kc, api.jobsPath(), api.listJobs, {
      onChange: (j) => {
        if (j.status?.phase === "Succeeded" && !this.succeeded.has(j.metadata.name!)) this.succeeded.set(j.metadata.name!, performance.now());
      },
    }, { log });
    this.informers.push(deployments, jobs);
    await Promise.all([deployments.start(), jobs.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private deployment(name: string, d: V1Deployment | undefined): void {
    if (d) this.deployments.set(name, { replicas: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0 });
    else this.deployments.delete(name);
    let replicas = 0;
    let ready = 0;
    for (const v of this.deployments.values()) {
      replicas += v.replicas;
      ready += v.ready;
    }
    this.replicas.push({ at: performance.now(), replicas, ready });
  }

  /** The summed Deployments as they stood at `t`. */
  at(t: number): ReplicasEvent {
    let last = this.replicas[0]!;
    for (const e of this.replicas) if (e.at <= t) last = e;
    return last;
  }

  /**
   * The autoscaler's reaction to a step that began at `from` and ended at `to`: ms from its first
   * job to the first raise of replicas, the most replicas asked for by `to`, and ms until that
   * many were Ready (NaN when not, up to now).
   */
  reaction(from: number, to: number): { raisedMs: number; peak: number; readyMs: number; before: number } {
    const before = this.at(from).replicas;
    const during = this.replicas.filter((e) => e.at >= from && e.at <= to);
    const raised = during.find((e) => e.replicas > before);
    const peak = Math.max(before, ...during.map((e) => e.replicas));
    const ready = this.replicas.find((e) => e.at >= from && e.ready >= peak && peak > 0);
    return { raisedMs: raised ? raised.at - from : NaN, peak, readyMs: ready ? ready.at - from : NaN, before };
  }

  /** Jobs seen Succeeded in [from, to), and the create → Succeeded times (ms) of those created in it. */
  finished(from: number, to: number): { count: number; latencies: number[] } {
    let count = 0;
    for (const at of this.succeeded.values()) if (at >= from && at < to) count++;
    const latencies: number[] = [];
    for (const [name, created] of this.created) {
      const done = this.succeeded.get(name);
      if (created >= from && created < to && done !== undefined) latencies.push(done - created);
    }
    return { count, latencies: latencies.sort((a, b) => a - b) };
  }
}

/** The q-quantile (0..1) of sorted values, NaN when none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
