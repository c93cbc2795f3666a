import { afterEach, expect, it } from "vitest";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue } from "bullmq";
import { pino } from "pino";
import sharp from "sharp";
import { randomUUID } from "node:crypto";
import { testEnv, uniqueName } from "../test/support/env.js";
import { loadConfig } from "../common/config.js";
import { createRedis } from "../common/redis.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../common/queue.js";
import { createObjectStore } from "../common/storage/index.js";
import { FlipRunner } from "../test/support/flip-runner.js";
import { startHealthServer } from "./queue/health.js";
import { startWorker } from "./worker.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const silent = pino({ level: "silent" });

it("shows a real job's outcome and stage times on the health server's /metrics, without job ids", async () => {
  const { s3, redisUrl } = testEnv();
  const prefix = uniqueName("wkm");
  const config = loadConfig({
    REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true", WORKER_MODELS: "flip-x2",
  });
  const worker = await startWorker({ config, log: silent, createRunner: () => new FlipRunner() });
  cleanups.push(() => worker.stop());
  const health: Server = await startHealthServer(0, () => "ready", silent);
  cleanups.push(() => new Promise((resolve) => health.close(resolve)));

  const store = createObjectStore(config);
  const redis = createRedis(config.REDIS_URL);
  const queue = new Queue<QueueJobData, QueueJobResult>(queueName("flip-x2"), { connection: redis, prefix: config.QUEUE_PREFIX });
  cleanups.push(async () => { await queue.close(); await redis.quit(); store.close(); });
  await store.put("uploads/team-a/in.png", await sharp({ create: { width: 4, height: 4, channels: 3, background: "#336699" } }).png().toBuffer());
  const base = { namespace: "team-a", model: "flip-x2", modelSpec: { source: { uri: "builtin:flip" }, task: "image-to-image" }, modelVersion: "1", params: {}, output: { format: "webp" } } as const;
  const ok = randomUUID();
  const missing = randomUUID();
  await queue.add("image", { ...base, uid: ok, name: "ok", inputUri: "upload:uploads/team-a/in.png" }, { jobId: ok, attempts: 1 });
  await queue.add("image", { ...base, uid: missing, name: "missing", inputUri: "upload:uploads/team-a/nope.png" }, { jobId: missing, attempts: 1 });
  await expect.poll(async () => [await (await queue.getJob(ok))!.getState(), await (await queue.getJob(missing))!.getState()], { timeout: 15_000, interval: 50 })
    .toEqual(["completed", "failed"]);

  const res = await fetch(`http://127.0.0.1:${(health.address() as AddressInfo).port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await res.text();
  expect(text).toContain('pixelmill_jobs_total{model="flip-x2",outcome="succeeded",reason=""} 1');
  expect(text).toContain('pixelmill_jobs_total{model="flip-x2",outcome="failed",reason="InputNotFound"} 1');
  // Both attempts waited and fetched; only the one with an input went on to the runner's stages and the upload.
  for (const [stage, count] of [["wait", 2], ["fetch", 2], ["decode", 1], ["inference", 1], ["encode", 1], ["upload", 1]] as const) {
    expect(text).toContain(`pixelmill_job_stage_seconds_count{model="flip-x2",stage="${stage}"} ${count}`);
  }
  expect(text).toContain('pixelmill_job_duration_seconds_count{model="flip-x2",outcome="succeeded"} 1');
  expect(text).toContain('pixelmill_job_duration_seconds_count{model="flip-x2",outcome="failed"} 1');
  expect(text).toContain("process_resident_memory_bytes");
  expect(text).not.toContain(ok);
  expect(text).not.toContain(missing);
});
