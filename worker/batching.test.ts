import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Queue } from "bullmq";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { MetricValueWithName } from "prom-client";
import { Registry } from "../common/metrics.js";
import { createRedis } from "../common/redis.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../common/queue.js";
import { createObjectStore } from "../common/storage/index.js";
import { testEnv, uniqueName } from "../test/support/env.js";
import { manifest, png, randomImage } from "../test/support/inference.js";
import { BucketStores } from "../common/storage/bucket-stores.js";
import { InputFetcher } from "./input/input-fetcher.js";
import { Inference } from "./inference/engine.js";
import { Consumer } from "./queue/consumer.js";

/**
 * Micro-batching as a worker meets it: jobs taken from a real BullMQ queue by a consumer of
 * concurrency 4, inputs fetched from the real S3, the real engine. Jobs taken together meet in
 * the batcher, and every job gets its own output.
 */
const MODEL = "grayscale";
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-batching-worker-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("a worker with a batching model", () => {
  it("runs concurrent jobs of one size in fewer session.runs, each with its own output", async () => {
    const { s3, redisUrl } = testEnv();
    const prefix = uniqueName("batching");
    const s3Settings = { S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true };
    const store = createObjectStore({ ...s3Settings, STORAGE_URL: `s3://${s3.bucket}/${prefix}` });
    const buckets = new BucketStores(s3Settings);
    const log = pino({ level: "silent" });
    const metrics = new Registry();
    const runner = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 1 << 24, fetchMaxBytes: 1 << 24, fetchTimeoutMs: 5000, log, metrics, concurrency: 4 });
    const input = new InputFetcher({ store, bucketStore: buckets.for, maxBytes: 1 << 24, timeoutMs: 5000 });
    const consumer = new Consumer({ redisUrl, prefix, models: [MODEL], concurrency: 4, runner, input, store, log });
    const redis = createRedis(redisUrl);
    const queue = new Queue<QueueJobData, QueueJobResult>(queueName(MODEL), { connection: redis, prefix });
    try {
      const spec = { ...(await manifest(MODEL)).spec, batching: { maxBatchSize: 4, maxDelayMs: 50 } };
      const uids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const key = `uploads/team-a/${i}.png`;
        await store.put(key, await png(randomImage(32, 24, i)), { contentType: "image/png" });
        const uid = randomUUID();
        uids.push(uid);
        const data: QueueJobData = { uid, namespace: "team-a", name: `job-${i}`, model: MODEL, modelSpec: spec, modelVersion: "1", inputUri: `upload:${key}`, params: {}, output: { format: "png" } };
        await queue.add("image", data, { jobId: uid, attempts: 1 });
      }
      await consumer.start();
      await expect.poll(async () => (await Promise.all(uids.map((uid) => queue.getJobState(uid)))).filter((s) => s !== "completed" && s !== "failed"), { timeout: 30_000, interval: 100 }).toEqual([]);
      expect(await Promise.all(uids.map(async (uid) => [await queue.getJobState(uid), (await queue.getJob(uid))!.failedReason]))).toEqual(uids.map(() => ["completed", undefined]));
      const outputs = await Promise.all(uids.map(async (uid) => (await queue.getJob(uid))!.returnvalue.uri));
      expect(new Set(outputs).size).toBe(8);
      const values = ((await metrics.getSingleMetric("pixelmill_inference_batch_images")!.get()).values) as Array<MetricValueWithName<string>>;
      const of = (suffix: string) => values.find((v) => v.metricName === `pixelmill_inference_batch_images_${suffix}`)?.value;
      expect(of("sum")).toBe(8);
      expect(of("count")).toBeLessThan(8);
    } finally {
      await consumer.stop();
      await queue.close();
      await redis.quit();
      store.close();
      buckets.close();
    }
  });
});
