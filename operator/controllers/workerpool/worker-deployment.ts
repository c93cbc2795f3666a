import { createHash } from "node:crypto";
import type { V1Deployment, V1EnvVar, V1ResourceRequirements, V1Toleration } from "@kubernetes/client-node";
import { API_VERSION, WORKERPOOL_KIND, type WorkerPool } from "../../../common/crd-types.js";

export const WORKER_APP = "pixelmill-worker";
export const MANAGED_BY = "pixelmill-operator";
export const POOL_LABEL = "pixelmill.io/pool";
export const TEMPLATE_HASH_ANNOTATION = "pixelmill.io/template-hash";
export const DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";
export const HEALTH_PORT = 8081;
/** Where workers keep downloaded model files: an emptyDir, the root filesystem being read-only. */
export const MODEL_CACHE_DIR = "/var/cache/pixelmill/models";
/** Set by the operator from the pool; a pool's own env cannot override them. */
const OWN_ENV = ["WORKER_MODELS", "PIXELMILL_POOL", "PIXELMILL_GPUS", "POD_NAME", "POD_NAMESPACE", "MODEL_CACHE_DIR"];
/** Time for a drained worker to hand back and exit after its longest job. */
const GRACE_MARGIN_SECONDS = 30;
const GPU = "nvidia.com/gpu";
const GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";

export function deploymentName(poolName: string): string {
  return `${poolName}-worker`;
}

export function poolLabels(poolName: string): Record<string, string> {
  return { "app.kubernetes.io/name": WORKER_APP, "app.kubernetes.io/managed-by": MANAGED_BY, [POOL_LABEL]: poolName };
}

/**
 * The worker Deployment a WorkerPool owns, without replicas (the autoscaler sets them). GPU
 * class: `spec.gpu.product` becomes required node affinity on `nvidia.com/gpu.product` (GPU
 * feature discovery's label); `spec.nodeSelector` passes through for the other labels clusters
 * use (`cloud.google.com/gke-accelerator`, `karpenter.k8s.aws/instance-gpu-name`). A GPU pool
 * tolerates the `nvidia.com/gpu` taint and requests its GPUs. The grace period outlasts the
 * pool's longest job, so a scaled-down worker finishes what it holds (worker/shutdown.ts).
 */
export function workerDeployment(pool: WorkerPool): V1Deployment {
  const name = pool.metadata.name!;
  const spec = pool.spec;
  const gpus = spec.gpu?.count ?? 0;
  const labels = poolLabels(name);
  const env: V1EnvVar[] = [
    { name: "WORKER_MODELS", value: spec.models.join(",") },
    { name: "PIXELMILL_POOL", value: name },
    // The worker's GPU-seconds (status.output.usage) count these.
    { name: "PIXELMILL_GPUS", value: String(gpus) },
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "MODEL_CACHE_DIR", value: MODEL_CACHE_DIR },
    ...(gpus > 0 && !spec.env?.some((e) => e.name === "PIXELMILL_EXECUTION_PROVIDERS") ? [{ name: "PIXELMILL_EXECUTION_PROVIDERS", value: "cuda,cpu" }] : []),
    ...(spec.env ?? []).filter((e) => !OWN_ENV.includes(e.name)),
  ];
  const resources = withGpus(spec.resources ?? {}, gpus);
  const template: V1Deployment["spec"] = {
    selector: { matchLabels: { "app.kubernetes.io/name": WORKER_APP, [POOL_LABEL]: name } },
    // GPUs are the scarce part: a rollout replaces pods one by one instead of asking for extra GPUs.
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
    template: {
      metadata: { labels },
      spec: {
        // Workers need Redis and storage, never the Kubernetes API.
        automountServiceAccountToken: false,
        // Hardened like the chart's pods (charts/pixelmill/templates/_security.tpl): the image's
        // non-root user, RuntimeDefault seccomp; writable only /tmp and the model cache.
        securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
        volumes: [{ name: "tmp", emptyDir: {} }, { name: "model-cache", emptyDir: {} }],
        terminationGracePeriodSeconds: (spec.maxJobSeconds ?? 600) + GRACE_MARGIN_SECONDS,
        ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
        ...(spec.gpu?.product ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: GPU_PRODUCT_LABEL, operator: "In", values: [spec.gpu.product] }] }],
        } } } } : {}),
        tolerations: tolerations(spec.tolerations ?? [], gpus),
        containers: [{
          name: "worker",
          image: spec.image,
          ...(spec.command ? { command: spec.command } : {}),
          env,
          ...(spec.envFrom ? { envFrom: spec.envFrom } : {}),
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
          volumeMounts: [{ name: "tmp", mountPath: "/tmp" }, { name: "model-cache", mountPath: MODEL_CACHE_DIR }],
          ports: [{ name: "health", containerPort: HEALTH_PORT }],
          readinessProbe: { httpGet: { path: "/readyz", port: "health" }, periodSeconds: 2, failureThreshold: 1 },
          livenessProbe: { httpGet: { path: "/healthz", port: "health" }, periodSeconds: 10, failureThreshold: 6 },
          ...(Object.keys(resources).length ? { resources } : {}),
        }],
      },
    },
  };
  const hash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 16);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: deploymentName(name),
      namespace: pool.metadata.namespace,
      labels,
      annotations: { [TEMPLATE_HASH_ANNOTATION]: hash },
      ownerReferences: [{ apiVersion: API_VERSION, kind: WORKERPOOL_KIND, name, uid: pool.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: template,
  };
}

function tolerations(own: readonly V1Toleration[], gpus: number): V1Toleration[] {
  const tolerates = own.some((t) => t.operator === "Exists" && (t.key === undefined || t.key === GPU));
  return gpus > 0 && !tolerates ? [...own, { key: GPU, operator: "Exists", effect: "NoSchedule" }] : [...own];
}

/** Extended resources must be requested in limits (and requests, if given, must equal them). */
function withGpus(given: Record<string, unknown>, gpus: number): V1ResourceRequirements {
  // The CRD keeps resources free-form; the apiserver validates them when it takes the Deployment.
  const resources = given as V1ResourceRequirements;
  if (gpus === 0) return resources;
  const count = String(gpus);
  return { ...resources, requests: { ...resources.requests, [GPU]: count }, limits: { ...resources.limits, [GPU]: count } };
}
