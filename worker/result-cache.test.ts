import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { ImageModelSpec } from "../common/crd-types.js";
import { createRedis } from "../common/redis.js";
import type { QueueJobData, QueueJobResult } from "../common/queue.js";
import { createObjectStore, readAll } from "../common/storage/index.js";
import { manifest, png, randomImage } from "../test/support/inference.js";
import { testEnv, uniqueName } from "../test/support/env.js";
import { Inference } from "./inference/engine.js";
import { InputFetcher } from "./input/input-fetcher.js";
import { jobProcessor } from "./process-job.js";
import { ResultCache } from "./result-cache.js";
import type { Runner } from "./runner.js";

const { s3, redisUrl } = testEnv();
const prefix = uniqueName("rc");
const store = createObjectStore({
  STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
  S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true,
});
const redis = createRedis(redisUrl);
const grayscale: ImageModelSpec = (await manifest("grayscale")).spec;
const log = pino({ level: "silent" });
const metrics = new Registry();
let dir: string;
let inference: Inference;
let runs = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-cache-"));
  inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log });
  for (const ns of ["team-a", "team-b"]) await upload(ns, "in", 7);
  await upload("team-a", "other", 8);
});

afterAll(async () => {
  store.close();
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

const runner: Runner = { run: (req) => ((runs += 1), inference.run(req)), close: () => inference.close() };
const process = jobProcessor({
  runner, store, log, gpus: 2, metrics, resultCache: new ResultCache(redis, prefix, 3600),
  input: new InputFetcher({ store, bucketStore: () => store, maxBytes: 16 << 20, timeoutMs: 10_000 }),
});

/** Stores an upload of random pixels (grayscale takes no params: tests that need a fresh key use a fresh input). */
async function upload(namespace: string, name: string, seed: number, [width, height] = [64, 48]): Promise<string> {
  await store.put(`uploads/${namespace}/${name}.png`, await png(randomImage(width, height, seed)));
  return `upload:uploads/${namespace}/${name}.png`;
}

/** Runs one job through the worker's processor: real S3, Redis and inference; the BullMQ job is the only stand-in. */
async function submit(over: Partial<QueueJobData> = {}): Promise<{ result: QueueJobResult; ran: boolean; ms: number }> {
  const uid = randomUUID();
  const data: QueueJobData = {
    uid, namespace: "team-a", name: `job-${uid.slice(0, 8)}`, model: "grayscale", modelSpec: grayscale, modelVersion: "1",
    inputUri: `upload:uploads/${over.namespace ?? "team-a"}/in.png`, params: {}, output: { format: "png" }, ...over,
  };
  const job = { id: uid, attemptsMade: 0, data, timestamp: Date.now(), processedOn: Date.now() } as unknown as Job<QueueJobData, QueueJobResult>;
  const before = runs;
  const t0 = performance.now();
  const result = await process(job);
  return { result, ran: runs > before, ms: performance.now() - t0 };
}

async function bytesOf(uri: string): Promise<Buffer> {
  return readAll((await store.get(store.keyOf(uri)!)).body);
}

it("finishes a repeated job from the earlier output: cached, no GPU-seconds, equal bytes, its own key", async () => {
  const first = await submit();
  expect(first).toMatchObject({ ran: true, result: { cached: false } });
  expect(first.result.usage.gpuSeconds).toBeGreaterThan(0);
  const again = await submit();
  expect(again).toMatchObject({ ran: false, result: { cached: true, usage: { runSeconds: 0, gpus: 0, gpuSeconds: 0 } } });
  expect(again.result).toMatchObject({ contentType: first.result.contentType, width: 64, height: 48, bytes: first.result.bytes });
  expect(again.result.uri).not.toBe(first.result.uri);
  expect((await bytesOf(again.result.uri)).equals(await bytesOf(first.result.uri))).toBe(true);
  const lookups = (await metrics.getSingleMetric("pixelmill_result_cache_lookups_total")!.get()).values;
  expect(lookups.find((v) => v.labels.result === "hit")?.value).toBeGreaterThanOrEqual(1);
});

it("misses when params, format, input, model spec or namespace differ, and when the job asks for cache: false", async () => {
  await submit();
  const variants: Partial<QueueJobData>[] = [
    { output: { format: "webp" } },
    { output: { format: "png", quality: 50 } },
    { inputUri: "upload:uploads/team-a/other.png" },
    { modelSpec: { ...grayscale, description: "changed" } as ImageModelSpec },
    { namespace: "team-b" },
    { cache: false },
  ];
  for (const over of variants) {
    const { result, ran } = await submit(over);
    expect({ over, ran, cached: result.cached }).toEqual({ over, ran: true, cached: false });
  }
});

it("keys on params too", () => {
  const data = { namespace: "team-a", model: "blur", modelSpec: grayscale, params: { radius: 1 }, output: { format: "png" } } as Partial<QueueJobData> as QueueJobData;
  const input = Buffer.from("x");
  expect(ResultCache.keyOf(data, input)).toBe(ResultCache.keyOf({ ...data, params: { radius: 1 } }, input));
  expect(ResultCache.keyOf(data, input)).not.toBe(ResultCache.keyOf({ ...data, params: { radius: 2 } }, input));
});

it("misses, and drops the entry, when the earlier output is gone", async () => {
  const inputUri = await upload("team-a", "stale", 9);
  const first = await submit({ inputUri });
  await store.delete(store.keyOf(first.result.uri)!);
  expect(await submit({ inputUri })).toMatchObject({ ran: true, result: { cached: false } });
  expect(await submit({ inputUri })).toMatchObject({ ran: false, result: { cached: true } });
});

it("ignores an entry that points outside the job's namespace's outputs", async () => {
  await upload("team-b", "tenancy", 10);
  const first = await submit({ inputUri: await upload("team-a", "tenancy", 10) });
  const data = { namespace: "team-b", model: "grayscale", modelSpec: grayscale, params: {}, output: { format: "png" } } as Partial<QueueJobData> as QueueJobData;
  const input = await readAll((await store.get("uploads/team-b/tenancy.png")).body);
  // A forged entry for team-b's key that names team-a's output: never copied across.
  await new ResultCache(redis, prefix, 60).record(ResultCache.keyOf(data, input)!, { key: store.keyOf(first.result.uri)!, contentType: "image/png", width: 64, height: 48, bytes: 1 });
  expect(await submit({ namespace: "team-b", inputUri: "upload:uploads/team-b/tenancy.png" })).toMatchObject({ ran: true, result: { cached: false } });
});

it("reports hit against miss latency", async () => {
  const miss: number[] = [];
  const hit: number[] = [];
  for (let i = 0; i < 5; i++) {
    const inputUri = await upload("team-a", `bench-${i}`, 100 + i, [1024, 768]);
    const first = await submit({ inputUri });
    const again = await submit({ inputUri });
    expect([first.result.cached, again.result.cached]).toEqual([false, true]);
    miss.push(first.ms);
    hit.push(again.ms);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
  console.log(`result cache latency (1024x768 noise PNG, grayscale on the CPU, S3 + Redis): miss median ${median(miss)} ms [${miss.map((m) => m.toFixed(1)).join(", ")}], hit median ${median(hit)} ms [${hit.map((m) => m.toFixed(1)).join(", ")}]`);
});
