import { describe, expect, it } from "vitest";
import type { WorkerPool } from "../../../common/crd-types.js";
import { TEMPLATE_HASH_ANNOTATION, workerDeployment } from "./worker-deployment.js";

const h100: WorkerPool = {
  apiVersion: "pixelmill.io/v1alpha1", kind: "WorkerPool",
  metadata: { name: "h100", namespace: "ml", uid: "u-1" },
  spec: {
    image: "worker:1", models: ["resize-x2", "text-detect"], gpu: { count: 1, product: "NVIDIA-H100-80GB-HBM3" },
    resources: { requests: { cpu: "4" }, limits: { memory: "32Gi" } }, envFrom: [{ secretRef: { name: "s3" } }],
    env: [{ name: "WORKER_CONCURRENCY", value: "4" }, { name: "WORKER_MODELS", value: "sneaky" }], maxJobSeconds: 900,
  },
};

describe("workerDeployment", () => {
  const d = workerDeployment(h100);
  const pod = d.spec!.template.spec!;
  const container = pod.containers[0]!;

  it("is owned by the pool and selects its pods by pool label", () => {
    expect(d.metadata).toMatchObject({ name: "h100-worker", namespace: "ml", ownerReferences: [{ kind: "WorkerPool", name: "h100", uid: "u-1", controller: true }] });
    expect(d.spec!.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "pixelmill-worker", "pixelmill.io/pool": "h100" });
    expect(d.spec!.template.metadata!.labels).toMatchObject(d.spec!.selector.matchLabels!);
  });

  it("places pods on the GPU class, tolerates the GPU taint and requests the GPUs", () => {
    expect(pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions)
      .toEqual([{ key: "nvidia.com/gpu.product", operator: "In", values: ["NVIDIA-H100-80GB-HBM3"] }]);
    expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    expect(container.resources).toEqual({ requests: { cpu: "4", "nvidia.com/gpu": "1" }, limits: { memory: "32Gi", "nvidia.com/gpu": "1" } });
  });

  it("gives the worker its pool identity, its models (not overridable) and its config sources", () => {
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
    expect(env).toEqual({
      WORKER_MODELS: "resize-x2,text-detect", PIXELMILL_POOL: "h100", PIXELMILL_GPUS: "1", POD_NAME: "metadata.name", POD_NAMESPACE: "metadata.namespace",
      MODEL_CACHE_DIR: "/var/cache/pixelmill/models", PIXELMILL_EXECUTION_PROVIDERS: "cuda,cpu", WORKER_CONCURRENCY: "4",
    });
    expect(container.envFrom).toEqual([{ secretRef: { name: "s3" } }]);
    expect(container.readinessProbe!.httpGet).toEqual({ path: "/readyz", port: "health" });
  });

  it("runs hardened: non-root, no privilege escalation or capabilities, RuntimeDefault seccomp, read-only root", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
  });

  it("writes only to emptyDirs: /tmp and the model cache, where MODEL_CACHE_DIR points", () => {
    const mounts = Object.fromEntries(container.volumeMounts!.map((m) => [m.mountPath, m.name]));
    expect(mounts).toEqual({ "/tmp": "tmp", "/var/cache/pixelmill/models": "model-cache" });
    expect(pod.volumes!.map((v) => [v.name, Object.keys(v)])).toEqual([["tmp", ["name", "emptyDir"]], ["model-cache", ["name", "emptyDir"]]]);
    const own = workerDeployment({ ...h100, spec: { ...h100.spec, env: [{ name: "MODEL_CACHE_DIR", value: "/elsewhere" }] } });
    expect(own.spec!.template.spec!.containers[0]!.env!.filter((e) => e.name === "MODEL_CACHE_DIR")).toEqual([{ name: "MODEL_CACHE_DIR", value: "/var/cache/pixelmill/models" }]);
  });

  it("derives the termination grace from the pool's longest job", () => {
    expect(pod.terminationGracePeriodSeconds).toBe(930);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("changes its template hash when the spec changes, and only then", () => {
    const same = workerDeployment(structuredClone(h100));
    const other = workerDeployment({ ...h100, spec: { ...h100.spec, image: "worker:2" } });
    expect(same.metadata!.annotations![TEMPLATE_HASH_ANNOTATION]).toBe(d.metadata!.annotations![TEMPLATE_HASH_ANNOTATION]);
    expect(other.metadata!.annotations![TEMPLATE_HASH_ANNOTATION]).not.toBe(d.metadata!.annotations![TEMPLATE_HASH_ANNOTATION]);
  });

  it("runs a CPU pool without GPU requests or tolerations", () => {
    const cpu = workerDeployment({ ...h100, spec: { image: "worker:1", models: ["blur"] } }).spec!.template.spec!;
    expect(cpu.tolerations).toEqual([]);
    expect(cpu.containers[0]!.resources).toBeUndefined();
    expect(cpu.affinity).toBeUndefined();
    expect(cpu.containers[0]!.env).toContainEqual({ name: "PIXELMILL_GPUS", value: "0" });
  });

  it("tells the worker its GPU count for usage (PIXELMILL_GPUS), which the pool's env cannot override", () => {
    const two = workerDeployment({ ...h100, spec: { ...h100.spec, gpu: { count: 2 }, env: [{ name: "PIXELMILL_GPUS", value: "8" }] } });
    expect(two.spec!.template.spec!.containers[0]!.env!.filter((e) => e.name === "PIXELMILL_GPUS")).toEqual([{ name: "PIXELMILL_GPUS", value: "2" }]);
  });
});
