import { afterAll, beforeAll, expect, it } from "vitest";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Deployment } from "@kubernetes/client-node";
import { kubeConfig, testEnv, uniqueName } from "../test/support/env.js";
import { A100, GPU_TAINT } from "./gpu-nodes.js";
import { createPodRunner, type PodRunner } from "./pod-runner.js";
import { isAlive } from "./processes.js";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const namespace = uniqueName("pod-runner");
const dir = join(tmpdir(), namespace);
let runner: PodRunner;

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // Read through envFrom: the runner must resolve it from the apiserver like a kubelet.
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "worker-tuning" }, data: { WORKER_CONCURRENCY: "1" } } });
  runner = createPodRunner({
    kc,
    namespace,
    logDir: join(dir, "logs"),
    baseEnv: {
      PATH: process.env.PATH, LOG_LEVEL: "info",
      REDIS_URL: testEnv().redisUrl, QUEUE_PREFIX: namespace, STORAGE_URL: `file://${join(dir, "storage")}`, MODEL_CACHE_DIR: join(dir, "models"),
    },
  });
  await runner.start();
});

afterAll(async () => {
  await runner?.stop();
  await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }).catch(() => {});
  await core.deleteNamespace({ name: namespace });
  await rm(dir, { recursive: true, force: true });
});

function workerDeployment(replicas: number): V1Deployment {
  const labels = { "app.kubernetes.io/name": "pixelmill-worker", "app.kubernetes.io/instance": "grayscale-a100" };
  return {
    metadata: { name: "workers", labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { "nvidia.com/gpu.product": A100.product },
          tolerations: [{ key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect }],
          terminationGracePeriodSeconds: 20,
          containers: [{
            name: "worker",
            image: "pixelmill/worker:dev",
            env: [{ name: "WORKER_MODELS", value: "grayscale" }, { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            envFrom: [{ configMapRef: { name: "worker-tuning" } }],
            readinessProbe: { httpGet: { path: "/readyz", port: 8081 } },
            resources: { limits: { "nvidia.com/gpu": "1" } },
          }],
        },
      },
    },
  };
}

const readyReplicas = async () => (await apps.readNamespacedDeployment({ namespace, name: "workers" })).status?.readyReplicas ?? 0;
const workerPods = async () => (await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/name=pixelmill-worker" })).items;

it("runs a real worker process for each scheduled worker pod, and the Deployment becomes ready", async () => {
  await apps.createNamespacedDeployment({ namespace, body: workerDeployment(2) });
  await expect.poll(readyReplicas, { timeout: 90_000, interval: 500 }).toBe(2);

  const pods = await workerPods();
  expect(pods).toHaveLength(2);
  for (const pod of pods) {
    const key = `${namespace}/${pod.metadata!.name}`;
    const [proc, ...more] = runner.processes(key);
    expect(more).toEqual([]);
    expect(proc?.uid).toBe(pod.metadata!.uid);
    expect(proc?.exitCode).toBeUndefined();
    expect(isAlive(proc!.pid)).toBe(true);
    expect(pod.status).toMatchObject({ phase: "Running", containerStatuses: [{ name: "worker", ready: true, started: true, restartCount: 0 }] });
    expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    // The worker read its settings from the pod: the literal env and the ConfigMap.
    const started = (await readFile(join(dir, "logs", `${namespace}_${pod.metadata!.name}.log`), "utf8"))
      .split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "Worker started");
    expect(started).toMatchObject({ models: ["grayscale"], concurrency: 1 });
  }
}, 120_000);

it("on scale-down SIGTERMs one worker and the pod goes away only after the process exited", async () => {
  const before = new Set((await workerPods()).map((p) => p.metadata!.name!));
  await apps.patchNamespacedDeploymentScale({ namespace, name: "workers", body: { spec: { replicas: 1 } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  await expect.poll(async () => (await workerPods()).length, { timeout: 60_000, interval: 100 }).toBe(1);
  const goneAt = new Date();
  const [kept] = (await workerPods()).map((p) => p.metadata!.name!);
  const removed = [...before].filter((name) => name !== kept);
  expect(removed).toHaveLength(1);

  const [stoppedProc] = runner.processes(`${namespace}/${removed[0]}`);
  expect(stoppedProc?.exitCode).toBe(0); // drained on SIGTERM, not killed
  expect(stoppedProc!.exitedAt!.getTime()).toBeLessThanOrEqual(goneAt.getTime());
  expect(isAlive(stoppedProc!.pid)).toBe(false);
  const [keptProc] = runner.processes(`${namespace}/${kept}`);
  expect(keptProc?.exitCode).toBeUndefined();
  expect(isAlive(keptProc!.pid)).toBe(true);
  await expect.poll(readyReplicas, { timeout: 30_000, interval: 250 }).toBe(1);
}, 90_000);

it("restarts a worker that dies on its own and counts the restart in the pod's status", async () => {
  const [pod] = await workerPods();
  const key = `${namespace}/${pod!.metadata!.name}`;
  const [first] = runner.processes(key);
  process.kill(-first!.pid, "SIGKILL"); // the whole process group, as an OOM kill would
  await expect.poll(() => runner.processes(key).length, { timeout: 30_000, interval: 250 }).toBe(2);
  const [dead, second] = runner.processes(key);
  expect(dead?.exitCode).toBeNull(); // ended by a signal
  expect(second!.pid).not.toBe(first!.pid);
  expect(isAlive(second!.pid)).toBe(true);
  await expect.poll(async () => (await core.readNamespacedPod({ namespace, name: pod!.metadata!.name! })).status?.containerStatuses?.[0], { timeout: 30_000, interval: 250 })
    .toMatchObject({ ready: true, restartCount: 1, state: { running: {} }, lastState: { terminated: { exitCode: 137 } } });
}, 90_000);

it("stops the worker of a pod that is force-deleted", async () => {
  // A bare pod, so that no ReplicaSet deletes it gracefully first.
  const template = workerDeployment(1).spec!.template;
  await core.createNamespacedPod({ namespace, body: { metadata: { name: "bare", labels: { "app.kubernetes.io/name": "pixelmill-worker" } }, spec: template.spec! } });
  const key = `${namespace}/bare`;
  await expect.poll(async () => (await core.readNamespacedPod({ namespace, name: "bare" })).status?.containerStatuses?.[0]?.ready, { timeout: 60_000, interval: 250 }).toBe(true);
  const [proc] = runner.processes(key);
  expect(isAlive(proc!.pid)).toBe(true);
  await core.deleteNamespacedPod({ namespace, name: "bare", gracePeriodSeconds: 0 });
  await expect.poll(() => runner.processes(key)[0]?.exitCode, { timeout: 30_000, interval: 250 }).toBe(0); // SIGTERM: drained and exited
  expect(runner.processes(key)).toHaveLength(1); // not restarted
}, 90_000);
