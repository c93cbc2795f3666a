import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { GROUP, IMAGEJOB_PLURAL, VERSION, WORKERPOOL_PLURAL, type ImageJob } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { parsePresence, presenceKey } from "../../common/presence.js";
import { projectRoot } from "../../devstack/binaries.js";
import { H100 } from "../../devstack/gpu-nodes.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { createPodRunner, type PodRunner } from "../../devstack/pod-runner.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { kubeConfig, testEnv, uniqueName } from "../../test/support/env.js";
import { simulatedWorkers } from "./simulated-worker.js";

/**
 * A WorkerPool's pod served by a simulated worker in this process, end to end on the real
 * cluster: the operator scales the pool up for a job, the pod runner starts the simulated worker
 * for the pod and reports it Ready, the worker takes the job from the real queue, reports
 * presence, and the operator marks the ImageJob Succeeded; scaled back down, the worker stops
 * and leaves the presence hash.
 */
const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const env = testEnv();
const namespace = uniqueName("simworker");
const prefix = uniqueName("sim");
const log = createLogger({ level: "silent" });
const redis = new Redis(env.redisUrl);
const INFER_MS = 1500;
let dir: string;
let operator: Operator;
let runner: PodRunner;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-simworker-"));
  await mkdir(join(dir, "uploads", namespace), { recursive: true });
  await writeFile(join(dir, "uploads", namespace, "in.png"), Buffer.from("input"));
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await applyManifests(kc, (await readManifests(join(projectRoot, "models/manifests"))).filter((m) => m.metadata?.name === "grayscale"), namespace);
  operator = await startOperator({ kc, redisUrl: env.redisUrl, queuePrefix: prefix, namespace, log, poolResyncMs: 1000 });
  runner = createPodRunner({
    kc, namespace, logDir: join(dir, "pods"), log,
    baseEnv: { STORAGE_URL: `file://${dir}`, REDIS_URL: env.redisUrl, QUEUE_PREFIX: prefix, LOG_LEVEL: "silent" },
    container: simulatedWorkers({ delayMs: () => INFER_MS, image: { body: Buffer.from("out"), contentType: "image/png", width: 4, height: 4 }, log, metrics: new Registry() }),
  });
  await runner.start();
}, 120_000);

afterAll(async () => {
  await runner?.stop();
  await operator?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const getJob = async (name: string) => (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, name })) as ImageJob;
const presence = async () => Object.values(await redis.hgetall(presenceKey(prefix, namespace, "sim"))).map((raw) => parsePresence(raw));
const readyPods = async () => (await core.listNamespacedPod({ namespace, labelSelector: "pixelmill.io/pool=sim" })).items
  .filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it("serves a job from a pool scaled from zero, then stops cleanly when scaled down", async () => {
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: "sim" },
    spec: {
      image: "pixelmill/worker:simulated", models: ["grayscale"], gpu: { count: 1, product: H100.product }, maxJobSeconds: 10,
      autoscaling: { minReplicas: 0, maxReplicas: 2, targetJobsPerReplica: 1, scaleDownWindowSeconds: 1 },
    },
  } });
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "ImageJob", metadata: { name: "one" }, spec: { model: "grayscale", input: { uri: `upload:uploads/${namespace}/in.png` } },
  } });

  // Running: the pod is Ready and its worker reports the job in hand, as a real worker does.
  await until("the job to run", () => getJob("one"), (j) => j.status?.phase === "Running" || j.status?.phase === "Succeeded");
  expect(await until("the pod to be Ready", readyPods, (pods) => pods.length > 0)).toHaveLength(1);
  expect(await until("presence busy 1", presence, (p) => p.some((e) => e?.busy === 1))).toHaveLength(1);

  const done = await until("the job to succeed", () => getJob("one"), (j) => j.status?.phase === "Succeeded");
  expect(done.status!.output).toMatchObject({ contentType: "image/png", width: 4, height: 4, bytes: 3, usage: { gpus: 1 } });
  expect(done.status!.output!.usage!.runSeconds).toBeGreaterThanOrEqual(INFER_MS / 1000);
  expect((await stat(fileURLToPath(done.status!.output!.uri!))).size).toBe(3);
  expect(Date.parse(done.status!.finishedAt!) - Date.parse(done.status!.startedAt!)).toBeGreaterThanOrEqual(1000);

  // Scaled to zero after the window: the pod is deleted, its worker drains and removes its presence entry.
  await until("the pod to go", () => core.listNamespacedPod({ namespace, labelSelector: "pixelmill.io/pool=sim" }), (l) => l.items.length === 0);
  expect(await until("presence to empty", presence, (p) => p.length === 0)).toEqual([]);
  const [started] = runner.processes();
  expect(started).toMatchObject({ pid: process.pid, exitCode: 0 });
}, 90_000);
