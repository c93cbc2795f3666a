import { afterAll, beforeAll, expect, it } from "vitest";
import { Queue } from "bullmq";
import { pino } from "pino";
import sharp from "sharp";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { loadConfig } from "../../common/config.js";
import type { ImageModelSpec } from "../../common/crd-types.js";
import { createRedis } from "../../common/redis.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../../common/queue.js";
import { createObjectStore, type ObjectStore } from "../../common/storage/index.js";
import { Inference } from "../inference/engine.js";
import { declaredPng, manifest } from "../../test/support/inference.js";
import { startWorker, type RunningWorker } from "../worker.js";

// A batch of hostile inputs through the real worker (startWorker, real onnxruntime on the
// built-in resize-x2, real Redis and S3): each fails with its reason after exactly one of its
// three allowed attempts, the process survives, and a good job after them still succeeds.

const MODEL = "resize-x2";
let spec: ImageModelSpec;
let worker: RunningWorker;
let store: ObjectStore;
let redis: Redis;
let queue: Queue<QueueJobData, QueueJobResult>;
let cacheDir: string;
const errors: Record<string, unknown>[] = [];

beforeAll(async () => {
  const { s3, redisUrl } = testEnv();
  const prefix = uniqueName("hostile");
  cacheDir = await mkdtemp(join(tmpdir(), "pixelmill-hostile-"));
  const config = loadConfig({
    REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true", WORKER_MODELS: MODEL, WORKER_CONCURRENCY: "2",
  });
  const log = pino({ level: "warn" }, { write: (line: string) => {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if ((entry.level as number) >= 50) errors.push(entry);
  } });
  worker = await startWorker({
    config, log,
    createRunner: ({ objectStoreFor }) => new Inference({
      cacheDir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: config.FETCH_MAX_BYTES, fetchTimeoutMs: 5000, objectStoreFor, log,
    }),
  });
  store = createObjectStore(config);
  redis = createRedis(redisUrl);
  queue = new Queue<QueueJobData, QueueJobResult>(queueName(MODEL), { connection: redis, prefix });
  const declared = (await manifest(MODEL)).spec;
  // resize-x2 takes no params; declaring one lets the batch send wrong ones.
  spec = { ...declared, params: [{ name: "strength", type: "number", min: 0, max: 1, default: 0.5 }] };
});

afterAll(async () => {
  await worker?.stop();
  await queue?.close();
  await redis?.quit();
  store?.close();
  await rm(cacheDir, { recursive: true, force: true });
});

async function upload(name: string, bytes: Buffer): Promise<string> {
  await store.put(`uploads/team-a/${name}`, bytes);
  return `upload:uploads/team-a/${name}`;
}

async function submit(inputUri: string, params: Record<string, unknown> = {}): Promise<string> {
  const uid = randomUUID();
  const data: QueueJobData = {
    uid, namespace: "team-a", name: uniqueName("job"), model: MODEL, modelSpec: spec, modelVersion: "1", inputUri, params, output: { format: "png" },
  };
  await queue.add("image", data, { jobId: uid, attempts: 3, backoff: { type: "fixed", delay: 50 } });
  return uid;
}

it("fails each hostile input with its reason after one attempt, and still runs a good job after them", async () => {
  const good = await sharp({ create: { width: 8, height: 6, channels: 3, background: "#3366cc" } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: "#808080" } }).jpeg().toBuffer();
  const frame = (rgba: number[]) => Buffer.alloc(4 * 4 * 4).fill(Buffer.from(rgba));
  const animated = await sharp(Buffer.concat([frame([255, 0, 0, 255]), frame([0, 0, 255, 255])]), { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } }).gif().toBuffer();
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><image href="https://169.254.169.254/latest/meta-data"/></svg>');

  const cases: [label: string, uri: Promise<string> | string, reason: string, params?: Record<string, unknown>][] = [
    ["zero bytes", upload("empty.png", Buffer.alloc(0)), "InvalidImage"],
    ["truncated PNG", upload("cut.png", good.subarray(0, 40)), "InvalidImage"],
    ["corrupt JPEG header", upload("bad.jpg", Buffer.concat([jpeg.subarray(0, 20), Buffer.alloc(60, 0x5a), jpeg.subarray(80)])), "InvalidImage"],
    ["SVG", upload("x.svg", svg), "InvalidImage"],
    ["HTML around a PNG", upload("page.html", Buffer.concat([Buffer.from("<html>"), good])), "InvalidImage"],
    ["50000x50000 declared", upload("bomb.png", declaredPng(50000, 50000)), "InputTooLarge"],
    ["a param of the wrong type", upload("ok1.png", good), "InvalidParams", { strength: "high" }],
    ["an unknown param", upload("ok2.png", good), "InvalidParams", { bogus: 1 }],
    ["a param out of range", upload("ok3.png", good), "InvalidParams", { strength: 2 }],
    ["the metadata address", "https://169.254.169.254/latest/meta-data/", "InputForbidden"],
    ["loopback", "https://127.0.0.1/x.png", "InputForbidden"],
    ["a bucket not in INPUT_BUCKETS", "s3://someone-elses-bucket/x.png", "InputForbidden"],
    ["a missing upload", "upload:uploads/team-a/missing.png", "InputNotFound"],
    ["another namespace's upload", store.put("uploads/team-b/theirs.png", good).then(() => "upload:uploads/team-b/theirs.png"), "InputForbidden"],
  ];
  const submitted = await Promise.all(cases.map(async ([label, uri, reason, params]) => ({ label, reason, uid: await submit(await uri, params) })));
  const gif = await submit(await upload("anim.gif", animated));
  const last = await submit(await upload("good.png", good));

  await expect.poll(() => queue.getJobState(last), { timeout: 30_000, interval: 50 }).toBe("completed");
  for (const { label, reason, uid } of submitted) {
    await expect.poll(() => queue.getJobState(uid), { timeout: 10_000, interval: 50 }).toBe("failed");
    const job = (await queue.getJob(uid))!;
    expect(job.failedReason, label).toMatch(new RegExp(`^${reason}: `));
    expect(job.attemptsMade, label).toBe(1);
  }
  expect((await queue.getJob(last))!.returnvalue).toMatchObject({ width: 16, height: 12, contentType: "image/png" });
  await expect.poll(() => queue.getJobState(gif), { timeout: 10_000, interval: 50 }).toBe("completed");
  // The first 4x4 frame, upscaled, and the result says so (it becomes the ImageJob's status.output.notes).
  expect((await queue.getJob(gif))!.returnvalue).toMatchObject({ width: 8, height: 8, notes: ["the input has 2 frames; only the first was used"] });
  expect((await queue.getJob(last))!.returnvalue.notes).toBeUndefined();
  expect(errors).toEqual([]);
});
