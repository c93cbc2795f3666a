import { afterAll, beforeAll, expect, it } from "vitest";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { pino } from "pino";
import sharp from "sharp";
import { CoreV1Api, CustomObjectsApi, Watch } from "@kubernetes/client-node";
import { loadConfig } from "../../common/config.js";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobSpec } from "../../common/crd-types.js";
import { batchKey, batchOutputsDir, parseBatchItemResult, type BatchItemResult } from "../../common/batch.js";
import { INPUT_BUCKETS_ANNOTATION } from "../../common/job/input-grants.js";
import { createRedis } from "../../common/redis.js";
import { createObjectStore, readAll } from "../../common/storage/index.js";
import { BucketStores } from "../../common/storage/bucket-stores.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { projectRoot } from "../../devstack/binaries.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { inferenceRunner } from "../../worker/inference-runner.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import { kubeConfig, testEnv, uniqueName, s3StorageEnv } from "../support/env.js";

// Batch ImageJobs end to end through kubectl's path (docs/batch.md): one ImageJob created against
// the real apiserver, the operator expanding it into queue items, a real ONNX worker (grayscale)
// running them against S3 (versitygw), and the item results in Redis and the manifest.
const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const INTERVAL_MS = 500;
const MAX_ITEMS = 1500;
const env = testEnv();
const prefix = uniqueName("batch");
const ns = uniqueName("batch");
const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const redis = createRedis(env.redisUrl);
const config = loadConfig({
  REDIS_URL: env.redisUrl, QUEUE_PREFIX: prefix, WORKER_MODELS: "grayscale", WORKER_CONCURRENCY: "8",
  ...s3StorageEnv(env.s3, prefix),
  MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-test-models"),
});
const store = createObjectStore(config);
const buckets = new BucketStores(config);
let operator: Operator;
let worker: RunningWorker;

beforeAll(async () => {
  // The namespace is granted the store's bucket, for the s3:// prefix batch.
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns, annotations: { [INPUT_BUCKETS_ANNOTATION]: env.s3.bucket } } } });
  const models = (await readManifests(join(projectRoot, "models/manifests"))).filter((m) => m.metadata?.name === "grayscale");
  await applyManifests(kc, models, ns);
  operator = await startOperator({
    kc, redisUrl: env.redisUrl, queuePrefix: prefix, namespace: ns, log, retryBaseDelayMs: 100,
    storage: { store, bucketStore: buckets.for }, batch: { statusIntervalMs: INTERVAL_MS, maxItems: MAX_ITEMS },
  });
  worker = await startWorker({ config, log, createRunner: inferenceRunner(config, log) });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await operator?.stop();
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => {});
  redis.disconnect();
  store.close();
  buckets.close();
});

async function putImages(keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map(async (key, j) => {
      const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: (i + j) % 256, g: 90, b: 200 } } }).png().toBuffer();
      await store.put(key, png, { contentType: "image/png" });
    }));
  }
}

const where = { group: GROUP, version: VERSION, namespace: ns, plural: IMAGEJOB_PLURAL };
const create = (name: string, spec: Partial<ImageJobSpec>) =>
  custom.createNamespacedCustomObject({ ...where, body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec: { model: "grayscale", ...spec } } }) as Promise<ImageJob>;
const get = async (name: string) => (await custom.getNamespacedCustomObject({ ...where, name })) as ImageJob;

async function finished(name: string): Promise<ImageJob> {
  await expect.poll(async () => (await get(name)).status?.phase, { timeout: 240_000, interval: 250 }).toMatch(/^(Succeeded|Failed)$/);
  return get(name);
}

async function manifestOf(job: ImageJob): Promise<BatchItemResult[]> {
  const text = (await readAll((await store.get(store.keyOf(job.status!.output!.uri!)!)).body)).toString("utf8");
  return text.trim().split("\n").map((line) => parseBatchItemResult(line)!);
}

/** Counts the MODIFIED events of one ImageJob: each is a write to the apiserver. */
async function watchWrites(name: string): Promise<{ count: () => number; stop: () => void }> {
  let modified = 0;
  const abort = await new Watch(kc).watch(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${IMAGEJOB_PLURAL}`, { fieldSelector: `metadata.name=${name}` },
    (type: string) => void (type === "MODIFIED" && modified++), () => {});
  return { count: () => modified, stop: () => abort.abort() };
}

it("runs a 1,000-image batch as one ImageJob, with its item outputs listed and a bounded number of status writes", async () => {
  const keys = Array.from({ length: 1000 }, (_, i) => `uploads/${ns}/big/${i}.png`);
  await putImages(keys);
  const writes = await watchWrites("big");
  const started = Date.now();
  await create("big", { batch: { inputs: keys.map((k) => `upload:${k}`) } });
  const job = await finished("big");
  const durationMs = Date.now() - started;
  writes.stop();

  expect(job.status).toMatchObject({ phase: "Succeeded", batch: { total: 1000, succeeded: 1000, failed: 0, running: 0 } });
  expect(job.status?.output).toMatchObject({ contentType: "application/x-ndjson" });
  expect(await redis.hlen(batchKey(prefix, job.metadata.uid!, "results"))).toBe(1000);
  const manifest = await manifestOf(job);
  expect(manifest.map((r) => r.index)).toEqual(keys.map((_, i) => i));
  expect(manifest.every((r) => r.phase === "Succeeded" && r.input === `upload:${keys[r.index]}`)).toBe(true);
  const heads = await Promise.all(manifest.map((r) => store.head(store.keyOf(r.output!.uri!)!)));
  expect(heads.every((h) => h !== undefined && h.bytes > 0)).toBe(true);
  expect(manifest[0]!.output!.uri).toContain(`${batchOutputsDir(ns, "big", job.metadata.uid!)}items/0-1.png`);
  // The batch's usage is its items' (what GET /v1/usage adds up).
  const itemSeconds = manifest.reduce((sum, r) => sum + r.output!.usage!.runSeconds, 0);
  expect(itemSeconds).toBeGreaterThan(0);
  expect(job.status!.output!.usage!.runSeconds).toBeCloseTo(itemSeconds, 2);
  // Queued, then at most one count update per interval, then the end: never one write per item.
  const bound = 3 + Math.ceil(durationMs / INTERVAL_MS);
  expect(writes.count()).toBeGreaterThanOrEqual(2);
  expect(writes.count()).toBeLessThanOrEqual(Math.min(bound, 1000));
}, 300_000);

it("ends Succeeded with ItemsFailed when an item is not an image", async () => {
  const keys = Array.from({ length: 5 }, (_, i) => `uploads/${ns}/mixed/${i}.png`);
  await putImages(keys);
  await store.put(keys[3]!, Buffer.from("not an image at all"), { contentType: "image/png" });
  await create("mixed", { batch: { inputs: keys.map((k) => `upload:${k}`) }, maxAttempts: 2 });
  const job = await finished("mixed");
  expect(job.status).toMatchObject({ phase: "Succeeded", batch: { total: 5, succeeded: 4, failed: 1, running: 0 } });
  expect(job.status?.conditions?.find((c) => c.type === "ItemsFailed")).toMatchObject({ status: "True", message: "1 of 5 items failed" });
  const manifest = await manifestOf(job);
  expect(manifest[3]).toMatchObject({ phase: "Failed", error: { reason: "InvalidImage" }, attempts: 1 });
});

it("takes exactly the keys under an s3:// prefix that match the glob", async () => {
  const base = `${prefix}/inputs/glob/`;
  const bucket = buckets.for(env.s3.bucket);
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#123456" } }).png().toBuffer();
  for (const key of ["a.png", "b.png", "c.jpg", "sub/d.png", "e.png.txt"]) await bucket.put(`${base}${key}`, png);
  await create("globbed", { batch: { prefix: `s3://${env.s3.bucket}/${base}`, glob: "*.png" } });
  const job = await finished("globbed");
  expect(job.status).toMatchObject({ phase: "Succeeded", batch: { total: 2, succeeded: 2 } });
  expect((await manifestOf(job)).map((r) => r.input)).toEqual([`s3://${env.s3.bucket}/${base}a.png`, `s3://${env.s3.bucket}/${base}b.png`]);
});

it("stops a deleted batch: the rest is counted canceled and no more outputs appear", async () => {
  const keys = Array.from({ length: 400 }, (_, i) => `uploads/${ns}/cancel/${i}.png`);
  await putImages(keys);
  const job = await create("canceled", { batch: { inputs: keys.map((k) => `upload:${k}`) } });
  const uid = job.metadata.uid!;
  const counts = batchKey(prefix, uid, "counts");
  await expect.poll(async () => Number(await redis.hget(counts, "succeeded")), { timeout: 120_000, interval: 20 }).toBeGreaterThanOrEqual(5);
  await custom.deleteNamespacedCustomObject({ ...where, name: "canceled" });
  await expect.poll(async () => {
    const c = await redis.hgetall(counts);
    return Number(c.succeeded ?? 0) + Number(c.failed ?? 0) + Number(c.canceled ?? 0);
  }, { timeout: 60_000, interval: 50 }).toBe(400);
  // The running items have stopped once nothing runs; outputs then stay as they are.
  await expect.poll(async () => Number(await redis.hget(counts, "running")), { timeout: 60_000, interval: 50 }).toBe(0);
  const c = await redis.hgetall(counts);
  expect(Number(c.canceled)).toBeGreaterThan(0);
  const outputs = async () => {
    let n = 0;
    for await (const _key of store.list!(`${batchOutputsDir(ns, "canceled", uid)}items/`)) n++;
    return n;
  };
  const before = await outputs();
  expect(before).toBe(Number(c.succeeded));
  const manifest = (await readAll((await store.get(`${batchOutputsDir(ns, "canceled", uid)}manifest.jsonl`)).body)).toString().trim().split("\n");
  expect(manifest).toHaveLength(400);
  expect(manifest.filter((l) => l.includes('"phase":"Canceled"'))).toHaveLength(Number(c.canceled));
  expect(await redis.llen(`${prefix}:model-grayscale:wait`) + await redis.zcard(`${prefix}:model-grayscale:prioritized`)).toBe(0);
  expect(await outputs()).toBe(before);
}, 300_000);

it("fails a batch of more items than BATCH_MAX_ITEMS before any runs", async () => {
  const inputs = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => `upload:uploads/${ns}/none/${i}.png`);
  const job = await create("too-large", { batch: { inputs } });
  const done = await finished("too-large");
  expect(done.status).toMatchObject({ phase: "Failed", reason: "BatchTooLarge" });
  expect(await redis.exists(batchKey(prefix, job.metadata.uid!, "inputs"))).toBe(0);
});
