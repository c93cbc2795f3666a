import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { Redis } from "ioredis";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GROUP, IMAGEJOB_PLURAL, VERSION, WORKERPOOL_PLURAL, type ImageJob, type WorkerPool, type WorkerPoolSpec } from "../../common/crd-types.js";
import { INPUT_BUCKETS_ANNOTATION } from "../../common/job/input-grants.js";
import { createLogger } from "../../common/logger.js";
import { parsePresence, presenceKey } from "../../common/presence.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { projectRoot } from "../../devstack/binaries.js";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";
import { A100, gpuNodes, H100 } from "../../devstack/gpu-nodes.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { createPodRunner, type PodRunner } from "../../devstack/pod-runner.js";

/**
 * WorkerPools on the realistic cluster: the operator scales a worker Deployment from queue
 * depth, the real scheduler places its pods on the fake GPU nodes (or leaves them Pending), and
 * the pod runner runs a real worker process per running pod.
 */
const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const namespace = uniqueName("autoscale");
const prefix = uniqueName("as");
const env = testEnv();
const s3 = new S3Client({ endpoint: env.s3.endpoint, region: env.s3.region, forcePathStyle: true, credentials: { accessKeyId: env.s3.accessKeyId, secretAccessKey: env.s3.secretAccessKey } });
const log = createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" });
const inputUri = `s3://${env.s3.bucket}/${prefix}/inputs/in.png`;
/** Large enough that resize-x2 keeps a worker busy for seconds. */
const bigInputUri = `s3://${env.s3.bucket}/${prefix}/inputs/big.png`;
const redis = new Redis(env.redisUrl);
let operator: Operator;
let runner: PodRunner;
/** Every worker pod seen, by name: where it was placed. */
const placements = new Map<string, string | undefined>();

beforeAll(async () => {
  // Granted the test bucket (common/job/input-grants.ts): the jobs read s3:// inputs there.
  await core.createNamespace({ body: { metadata: { name: namespace, annotations: { [INPUT_BUCKETS_ANNOTATION]: env.s3.bucket } } } });
  await applyManifests(kc, await readManifests(join(projectRoot, "models/manifests")), namespace);
  const png = await sharp({ create: { width: 48, height: 32, channels: 3, background: "#4a7" } }).png().toBuffer();
  await s3.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: `${prefix}/inputs/in.png`, Body: png, ContentType: "image/png" }));
  const big = await sharp({ create: { width: 1800, height: 1800, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).png().toBuffer();
  await s3.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: `${prefix}/inputs/big.png`, Body: big, ContentType: "image/png" }));
  operator = await startOperator({ kc, redisUrl: env.redisUrl, queuePrefix: prefix, namespace, log, retryBaseDelayMs: 200, poolResyncMs: 1000 });
  runner = createPodRunner({
    kc, namespace, logDir: join(tmpdir(), prefix),
    baseEnv: {
      PATH: process.env.PATH, LOG_LEVEL: "info",
      REDIS_URL: env.redisUrl, QUEUE_PREFIX: prefix, STORAGE_URL: `s3://${env.s3.bucket}/${prefix}`, S3_ENDPOINT: env.s3.endpoint,
      S3_REGION: env.s3.region, S3_ACCESS_KEY_ID: env.s3.accessKeyId, S3_SECRET_ACCESS_KEY: env.s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true",
      MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-test-models"),
    },
  });
  await runner.start();
}, 120_000);

afterAll(async () => {
  await runner?.stop();
  await operator?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  s3.destroy();
  redis.disconnect();
});

async function createPool(name: string, spec: Partial<WorkerPoolSpec>): Promise<void> {
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name },
    spec: { image: "pixelmill/worker:test", models: ["grayscale"], ...spec },
  } });
}

const getPool = async (name: string) => (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, name })) as WorkerPool;
const listJobs = async () => ((await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL })) as { items: ImageJob[] }).items;
const poolPods = async (pool: string): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace, labelSelector: `pixelmill.io/pool=${pool}` })).items;

async function patchAutoscaling(name: string, autoscaling: Record<string, number>): Promise<void> {
  await custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, name, body: { spec: { autoscaling } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

/** Jobs in hand per live pod, as the workers report them to the autoscaler. */
async function busyByPod(pool: string): Promise<Map<string, number>> {
  const raw = await redis.hgetall(presenceKey(prefix, namespace, pool));
  return new Map(Object.entries(raw).map(([pod, v]) => [pod, parsePresence(v)?.busy ?? -1]));
}

const jobPhase = async (name: string) => ((await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, name })) as ImageJob).status;

async function submitJobs(model: string, count: number, label: string, uri = inputUri): Promise<void> {
  const names = Array.from({ length: count }, (_, i) => `${label}-${i}`);
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(names.slice(i, i + 25).map((name) => custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body: {
      apiVersion: `${GROUP}/${VERSION}`, kind: "ImageJob", metadata: { name }, spec: { model, input: { uri } },
    } })));
  }
}

async function outputKeys(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: env.s3.bucket, Prefix: `${prefix}/outputs/${namespace}/`, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

describe("WorkerPool autoscaling on the local cluster", () => {
  it("scales a pool up for a burst of 200 jobs, runs each once, and scales to zero after the window", async () => {
    await createPool("h100", {
      gpu: { count: 1, product: H100.product }, maxJobSeconds: 30,
      autoscaling: { minReplicas: 0, maxReplicas: 4, targetJobsPerReplica: 5, scaleDownWindowSeconds: 3 },
      env: [{ name: "WORKER_CONCURRENCY", value: "2" }],
    });
    await expect.poll(async () => (await getPool("h100")).status?.desiredReplicas, { timeout: 10_000 }).toBe(0);
    await submitJobs("grayscale", 200, "burst");

    const watchPods = setInterval(() => {
      void poolPods("h100").then((pods) => {
        for (const p of pods) placements.set(p.metadata!.name!, p.spec?.nodeName);
      }, () => undefined);
    }, 250);
    try {
      await expect.poll(async () => {
        return (await getPool("h100")).status?.desiredReplicas;
      }, { timeout: 15_000, interval: 200 }).toBe(4);
      await expect.poll(async () => {
        const jobs = await listJobs();
        return jobs.filter((j) => j.status?.phase === "Succeeded").length;
      }, { timeout: 180_000, interval: 1000 }).toBe(200);
      // Scaled down to zero once the window has passed since the last job finished.
      await expect.poll(async () => (await apps.readNamespacedDeployment({ namespace, name: "h100-worker" })).spec?.replicas, { timeout: 30_000, interval: 500 }).toBe(0);
      await expect.poll(async () => (await poolPods("h100")).length, { timeout: 60_000, interval: 500 }).toBe(0);
    } finally {
      clearInterval(watchPods);
    }

    const jobs = await listJobs();
    expect(jobs.every((j) => j.status?.phase === "Succeeded" && j.status.attempts === 1)).toBe(true);
    const keys = await outputKeys();
    expect(keys).toHaveLength(200); // one output per job: none ran twice
    const pool = await getPool("h100");
    expect(pool.status).toMatchObject({ desiredReplicas: 0, waiting: 0, inFlight: 0 });
    expect(pool.status?.lastScaleReason).toMatch(/scaled down from 4 to 0/);

    // Pods landed on H100 nodes only, and every worker drained and exited cleanly.
    const h100Nodes = new Set(gpuNodes.filter((n) => n.gpu.product === H100.product).map((n) => n.name));
    expect(placements.size).toBeGreaterThanOrEqual(4);
    for (const node of placements.values()) if (node) expect(h100Nodes.has(node)).toBe(true);
    const processes = runner.processes().filter((p) => p.pod.startsWith(`${namespace}/h100-worker-`));
    expect(processes.length).toBeGreaterThanOrEqual(4);
    expect(processes.map((p) => p.exitCode)).toEqual(processes.map(() => 0));
  }, 300_000);

  it("scales down idle workers first, and lets busy ones finish when it must remove them", async () => {
    await createPool("a100", {
      models: ["resize-x2"], gpu: { count: 1, product: A100.product }, maxJobSeconds: 120,
      autoscaling: { minReplicas: 3, maxReplicas: 3, targetJobsPerReplica: 1, scaleDownWindowSeconds: 1 },
      env: [{ name: "WORKER_CONCURRENCY", value: "1" }],
    });
    await expect.poll(async () => (await getPool("a100")).status?.readyReplicas, { timeout: 30_000, interval: 250 }).toBe(3);
    await submitJobs("resize-x2", 2, "long", bigInputUri);
    await expect.poll(async () => [...(await busyByPod("a100")).values()].sort(), { timeout: 30_000, interval: 100 }).toEqual([0, 1, 1]);
    const before = await busyByPod("a100");
    const idle = [...before].find(([, busy]) => busy === 0)![0];

    // 3 → 2 with two workers busy: the idle one goes, the busy ones stay.
    await patchAutoscaling("a100", { minReplicas: 0, maxReplicas: 2 });
    await expect.poll(async () => (await poolPods("a100")).map((p) => p.metadata!.name).sort(), { timeout: 20_000, interval: 100 })
      .toEqual([...before].filter(([, busy]) => busy === 1).map(([pod]) => pod).sort());
    expect(runner.processes(`${namespace}/${idle}`).at(-1)?.exitCode).toBe(0);
    expect((await Promise.all(["long-0", "long-1"].map(jobPhase))).map((s) => s?.phase)).toEqual(["Running", "Running"]);

    // 2 → 1 while both are busy: the removed worker drains, finishing its job before its pod goes.
    await patchAutoscaling("a100", { minReplicas: 0, maxReplicas: 1 });
    await expect.poll(async () => (await poolPods("a100")).filter((p) => p.metadata?.deletionTimestamp).length, { timeout: 20_000, interval: 100 }).toBe(1);
    const draining = (await poolPods("a100")).find((p) => p.metadata?.deletionTimestamp)!.metadata!.name!;
    await expect.poll(async () => (await Promise.all(["long-0", "long-1"].map(jobPhase))).map((s) => s?.phase), { timeout: 120_000, interval: 500 })
      .toEqual(["Succeeded", "Succeeded"]);
    for (const name of ["long-0", "long-1"]) expect((await jobPhase(name))?.attempts).toBe(1);
    await expect.poll(() => runner.processes(`${namespace}/${draining}`).at(-1)?.exitCode, { timeout: 30_000, interval: 200 }).toBe(0);
    expect((await outputKeys()).filter((k) => /\/long-\d\//.test(k))).toHaveLength(2);
  }, 180_000);

  it("fills the preferred pool of a model up to its max and spills the rest to the next", async () => {
    const spec = (product: string, priority: number, maxReplicas: number): Partial<WorkerPoolSpec> => ({
      models: ["text-detect"], gpu: { count: 1, product }, priority, env: [{ name: "WORKER_CONCURRENCY", value: "1" }],
      autoscaling: { minReplicas: 0, maxReplicas, targetJobsPerReplica: 1, scaleDownWindowSeconds: 5 },
    });
    await createPool("first-choice", spec(H100.product, 0, 1));
    await createPool("overflow", spec(A100.product, 5, 2));
    await submitJobs("text-detect", 3, "spill", bigInputUri);
    await expect.poll(async () => [(await getPool("first-choice")).status?.desiredReplicas, (await getPool("overflow")).status?.desiredReplicas], { timeout: 15_000, interval: 100 })
      .toEqual([1, 2]);
    await expect.poll(async () => (await listJobs()).filter((j) => j.metadata.name?.startsWith("spill-") && j.status?.phase === "Succeeded").length, { timeout: 200_000, interval: 500 }).toBe(3);
    for (const pool of ["first-choice", "overflow"]) {
      await expect.poll(async () => (await getPool(pool)).status?.desiredReplicas, { timeout: 30_000, interval: 250 }).toBe(0);
    }
    const ran = ["first-choice", "overflow"].map((p) => runner.processes().filter((w) => w.pod.startsWith(`${namespace}/${p}-worker-`)).length);
    expect(ran[0]).toBeGreaterThanOrEqual(1);
    expect(ran[1]).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it("leaves pods Pending when no node has the GPU class, without asking for more", async () => {
    await createPool("l4", {
      models: ["blur"], gpu: { count: 1, product: "NVIDIA-L4" },
      autoscaling: { minReplicas: 0, maxReplicas: 3, targetJobsPerReplica: 1, scaleDownWindowSeconds: 3 },
    });
    await submitJobs("blur", 6, "nocap");
    await expect.poll(async () => (await getPool("l4")).status?.pendingReplicas, { timeout: 15_000, interval: 200 }).toBe(3);
    // Demand stays, nothing becomes ready: the pool stays at its max, and its pods stay Pending as unschedulable.
    await new Promise((r) => setTimeout(r, 3000));
    const pool = await getPool("l4");
    expect(pool.status).toMatchObject({ desiredReplicas: 3, readyReplicas: 0, pendingReplicas: 3, waiting: 6 });
    expect((await apps.readNamespacedDeployment({ namespace, name: "l4-worker" })).spec?.replicas).toBe(3);
    const pods = await poolPods("l4");
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBeUndefined();
      expect(pod.status?.conditions?.find((c) => c.type === "PodScheduled")).toMatchObject({ status: "False", reason: "Unschedulable" });
    }
    expect(pool.status?.conditions?.find((c) => c.type === "CapacityLimited")).toMatchObject({ status: "True" });
    expect(pool.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "ReplicasPending" });
  }, 60_000);
});
