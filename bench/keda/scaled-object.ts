import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import { API_VERSION, WORKERPOOL_KIND, type WorkerPoolSpec } from "../../common/crd-types.js";
import { workerDeployment } from "../../operator/controllers/workerpool/worker-deployment.js";

/** `defaults`: KEDA's and the HPA's own settings. `fast`: the quickest they can be set to. */
export type KedaProfile = "defaults" | "fast";

/** What each profile sets, for the bench's output. */
export const KEDA_PROFILES: Record<KedaProfile, string> = {
  defaults: "pollingInterval 30 s, cooldownPeriod 300 s, HPA behavior defaults (scale-down stabilization 300 s)",
  fast: "pollingInterval 1 s, cooldownPeriod 5 s, HPA behavior: stabilization 0 s both ways, +100 pods or +1000 % per 1 s up, -100 % per 1 s down",
};

/**
 * The Deployment a WorkerPool would own (same pod template, so the pod runner starts real
 * workers for it), but free-standing: no owner, no operator label (the operator leaves it
 * alone), zero replicas, for a ScaledObject to drive.
 */
export function freeStandingWorkerDeployment(name: string, namespace: string, spec: WorkerPoolSpec): V1Deployment {
  const owned = workerDeployment({ apiVersion: API_VERSION, kind: WORKERPOOL_KIND, metadata: { name, namespace, uid: "none" }, spec });
  const labels = { ...owned.metadata!.labels, "app.kubernetes.io/managed-by": "pixelmill-bench" };
  const template = owned.spec!.template;
  return {
    ...owned,
    metadata: { name: owned.metadata!.name, namespace, labels },
    spec: { ...owned.spec!, replicas: 0, template: { ...template, metadata: { ...template.metadata, labels } } },
  };
}

export interface ScaledObjectOptions {
  name: string;
  namespace: string;
  deployment: string;
  /** redis://host:port[/db], without credentials. */
  redisUrl: string;
  /** Redis keys whose length is the load: BullMQ's waiting (prioritized) and active jobs of the model's queue. */
  keys: string[];
  /** Jobs per replica (the HPA's average-value target), as the pool's targetJobsPerReplica. */
  perReplica: number;
  maxReplicas: number;
  profile: KedaProfile;
}

/** A ScaledObject with one Redis trigger per key (KEDA's redis scaler reads a zset's ZCARD, a list's LLEN). */
export function scaledObject(o: ScaledObjectOptions): KubernetesObject {
  const url = new URL(o.redisUrl);
  if (url.username || url.password) throw new Error("bench:autoscale passes KEDA a Redis address without credentials; use a Redis without a password");
  const db = url.pathname.replace("/", "");
  const triggers = o.keys.map((key) => ({
    type: "redis",
    metadata: { address: url.host, listName: key, listLength: String(o.perReplica), ...(db ? { databaseIndex: db } : {}) },
  }));
  const fast = o.profile === "fast" ? {
    pollingInterval: 1,
    cooldownPeriod: 5,
    advanced: { horizontalPodAutoscalerConfig: { behavior: {
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Pods", value: 100, periodSeconds: 1 }, { type: "Percent", value: 1000, periodSeconds: 1 }] },
      scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 1 }] },
    } } },
  } : {};
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name: o.name, namespace: o.namespace },
    spec: { scaleTargetRef: { name: o.deployment }, minReplicaCount: 0, maxReplicaCount: o.maxReplicas, triggers, ...fast },
  } as KubernetesObject;
}
