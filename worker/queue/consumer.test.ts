import { afterEach, describe, expect, it } from "vitest";
import { Queue, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import sharp from "sharp";
import { randomUUID } from "node:crypto";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { createRedis } from "../../common/redis.js";
import type { JobProgress } from "../../common/job/progress.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../../common/queue.js";
import { createObjectStore, readAll, type ObjectStore } from "../../common/storage/index.js";
import { BucketStores } from "../../common/storage/bucket-stores.js";
import { Consumer, type ConsumerOptions } from "./consumer.js";
import { FlipRunner } from "../../test/support/flip-runner.js";
import { InputFetcher } from "../input/input-fetcher.js";

const MODEL = "flip-x2";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export interface Rig {
  prefix: string;
  store: ObjectStore;
  queue: Queue<QueueJobData, QueueJobResult>;
  redis: Redis;
  consumer: Consumer;
  logs: Record<string, unknown>[];
}

/** `wrapStore`: what the consumer writes through, around the rig's real store (a slow S3, say). */
async function rig(runner: FlipRunner, extra: Partial<ConsumerOptions> = {}, wrapStore?: (store: ObjectStore) => ObjectStore): Promise<Rig> {
  const { s3, redisUrl } = testEnv();
  const prefix = uniqueName("worker");
  const s3Settings = { S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true };
  const store = createObjectStore({ ...s3Settings, STORAGE_URL: `s3://${s3.bucket}/${prefix}` });
  const buckets = new BucketStores(s3Settings);
  const logs: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const input = new InputFetcher({ store, bucketStore: buckets.for, maxBytes: 10 * 1024 * 1024, timeoutMs: 5000 });
  const consumer = new Consumer({ redisUrl, prefix, models: [MODEL], concurrency: 1, runner, input, store: wrapStore?.(store) ?? store, log, ...extra });
  await consumer.start();
  const redis = createRedis(redisUrl);
  const queue = new Queue<QueueJobData, QueueJobResult>(queueName(MODEL), { connection: redis, prefix });
  cleanups.push(async () => {
    await consumer.stop();
    await queue.close();
    await redis.quit();
    store.close();
    buckets.close();
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]); // no worker errors, shutdown included
  });
  return { prefix, store, queue, redis, consumer, logs };
}

/** 20×10 PNG: left half red, right half blue. */
async function uploadPng(store: ObjectStore, key: string): Promise<string> {
  const raw = Buffer.alloc(20 * 10 * 3);
  for (let i = 0; i < 200; i++) raw.set(i % 20 < 10 ? [255, 0, 0] : [0, 0, 255], i * 3);
  await store.put(key, await sharp(raw, { raw: { width: 20, height: 10, channels: 3 } }).png().toBuffer(), { contentType: "image/png" });
  return `upload:${key}`;
}

function jobData(inputUri: string, extra: Partial<QueueJobData> = {}): QueueJobData {
  return {
    uid: randomUUID(), namespace: "team-a", name: uniqueName("job"), model: MODEL,
    modelSpec: { source: { uri: "builtin:flip" }, task: "image-to-image" }, modelVersion: "1",
    inputUri, params: {}, output: { format: "png" }, ...extra,
  };
}

async function enqueue(r: Rig, data: QueueJobData, attempts = 3): Promise<void> {
  await r.queue.add("image", data, { jobId: data.uid, attempts, backoff: { type: "exponential", delay: 50 } });
}

async function settled(r: Rig, uid: string, timeoutMs = 15_000): Promise<Job<QueueJobData, QueueJobResult>> {
  await expect.poll(() => r.queue.getJobState(uid), { timeout: timeoutMs, interval: 50 }).toMatch(/^(completed|failed)$/);
  return (await r.queue.getJob(uid))!;
}

async function notifications(r: Rig, uid: string): Promise<number> {
  const entries = await r.redis.xrange(`${r.prefix}:notify`, "-", "+");
  return entries.filter(([, fields]) => fields[0] === "uid" && fields[1] === uid).length;
}

describe("queue consumer", () => {
  it("runs a job: output in S3 at the attempt's key, contract result, notifications, progress and logs", async () => {
    const progress: JobProgress[] = [];
    const r = await rig(new FlipRunner(), { progress: (p) => progress.push(p), gpus: 3 });
    const data = jobData(await uploadPng(r.store, "uploads/team-a/in.png"));
    await enqueue(r, data);
    const job = await settled(r, data.uid);
    expect(job.failedReason).toBeFalsy();
    const key = `outputs/team-a/${data.name}/${data.uid}-1.png`;
    const head = await r.store.head(key);
    const { usage, ...result } = job.returnvalue;
    expect(result).toEqual({ uri: r.store.uri(key), contentType: "image/png", width: 40, height: 20, bytes: head!.bytes, cached: false });
    // Usage: the attempt's run time to its output written, × the pool's GPUs (PIXELMILL_GPUS).
    expect(usage.gpus).toBe(3);
    expect(usage.runSeconds).toBeGreaterThan(0);
    expect(usage.runSeconds).toBeLessThanOrEqual((job.finishedOn! - job.processedOn!) / 1000 + 0.001);
    expect(usage.gpuSeconds).toBeCloseTo(3 * usage.runSeconds, 3);
    expect(Math.round(usage.runSeconds * 1000)).toBe(usage.runSeconds * 1000); // millisecond precision
    expect(job.returnvalue.uri).toBe(`s3://${testEnv().s3.bucket}/${r.prefix}/${key}`);
    const { data: pixels, info } = await sharp(await readAll((await r.store.get(key)).body)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([40, 20]);
    expect([...pixels.subarray(0, 3)]).toEqual([0, 0, 255]); // mirrored: blue now on the left
    expect([...pixels.subarray(39 * info.channels, 39 * info.channels + 3)]).toEqual([255, 0, 0]);
    await expect.poll(() => notifications(r, data.uid)).toBe(2); // active, completed
    const lines = r.logs.filter((l) => l.jobUid === data.uid);
    expect(lines.map((l) => l.msg)).toEqual(["Job started", "Job succeeded"]);
    expect(lines[1]).toMatchObject({ model: MODEL, attempt: 1, bytes: head!.bytes, durationMs: expect.any(Number) as number });
    expect(progress.map((p) => [p.uid, p.attempt, p.stage])).toEqual(["fetch", "decode", "inference", "encode", "upload"].map((stage) => [data.uid, 1, stage]));
    expect(progress.map((p) => p.elapsedMs)).toEqual([...progress.map((p) => p.elapsedMs)].sort((x, y) => x - y));
  });

  it("fails a job with a missing input after one attempt, as InputNotFound", async () => {
    const runner = new FlipRunner();
    const r = await rig(runner);
    const data = jobData("upload:uploads/team-a/nothing-here.png");
    await enqueue(r, data);
    const job = await settled(r, data.uid);
    expect(await job.getState()).toBe("failed");
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/^InputNotFound: no input object at upload:uploads\/team-a\/nothing-here\.png$/);
    expect(runner.calls).toBe(0);
    await expect.poll(() => notifications(r, data.uid)).toBe(2); // active, failed
    expect(r.logs.find((l) => l.jobUid === data.uid && l.msg === "Job failed")).toMatchObject({ reason: "InputNotFound", retry: false, attempt: 1 });
  });

  it("does not retry the runner's unrecoverable JobFailure or malformed job data", async () => {
    const runner = new FlipRunner();
    const r = await rig(runner);
    await r.store.put("uploads/team-a/noise.png", Buffer.from("not an image at all"));
    const noise = jobData("upload:uploads/team-a/noise.png");
    const malformed = jobData("upload:uploads/team-a/noise.png", { namespace: "../escape" });
    await enqueue(r, noise);
    await enqueue(r, malformed);
    const [a, b] = [await settled(r, noise.uid), await settled(r, malformed.uid)];
    expect([a.attemptsMade, a.failedReason]).toEqual([1, expect.stringMatching(/^InvalidImage: the input is not an image/)]);
    expect([b.attemptsMade, b.failedReason]).toEqual([1, expect.stringMatching(/^InvalidParams: malformed queue job: namespace: /)]);
    expect(runner.calls).toBe(1);
  });

  it("retries an unnamed error and writes the second attempt's own key", async () => {
    const r = await rig(new FlipRunner({ failFirst: 1 }));
    const data = jobData(await uploadPng(r.store, "uploads/team-a/in.png"));
    await enqueue(r, data);
    const job = await settled(r, data.uid);
    expect(await job.getState()).toBe("completed");
    expect(job.attemptsMade).toBe(2);
    expect(job.returnvalue.uri).toBe(r.store.uri(`outputs/team-a/${data.name}/${data.uid}-2.png`));
    expect(await r.store.head(`outputs/team-a/${data.name}/${data.uid}-1.png`)).toBeUndefined();
    expect(r.logs.find((l) => l.jobUid === data.uid && l.msg === "Job failed")).toMatchObject({ reason: "InferenceError", retry: true, attempt: 1 });
    await expect.poll(() => notifications(r, data.uid)).toBe(4); // active, failed, active, completed
  });

  it("ends an attempt at timeoutSeconds as Timeout, even when the runner ignores the signal", async () => {
    const runner = new FlipRunner({ delayMs: 4000, ignoreSignal: true });
    const r = await rig(runner);
    const data = jobData(await uploadPng(r.store, "uploads/team-a/in.png"), { timeoutSeconds: 1 });
    const started = Date.now();
    await enqueue(r, data, 1);
    const job = await settled(r, data.uid);
    expect(job.failedReason).toBe("Timeout: the attempt took longer than timeoutSeconds (1 s)");
    expect(Date.now() - started).toBeLessThan(3500);
    expect(runner.signals[0]?.aborted).toBe(true); // the runner was told
  });

  it("leaves no output when the attempt runs out of time while its output is written, and the retry writes its own", async () => {
    // S3 as slow as the one that showed this: the first put takes 2.5 s to start, past the 1 s limit.
    let slowPuts = 1;
    const slow = (store: ObjectStore): ObjectStore => Object.assign(Object.create(store) as ObjectStore, {
      put: async (...args: Parameters<ObjectStore["put"]>) => {
        if (slowPuts-- > 0) await new Promise((res) => setTimeout(res, 2500));
        return store.put(...args);
      },
    });
    const r = await rig(new FlipRunner(), {}, slow);
    const data = jobData(await uploadPng(r.store, "uploads/team-a/in.png"), { timeoutSeconds: 1 });
    await enqueue(r, data, 2);
    const job = await settled(r, data.uid);
    expect([await job.getState(), job.attemptsMade]).toEqual(["completed", 2]);
    await new Promise((res) => setTimeout(res, 2500)); // the first attempt's put has started and settled by now
    const outputs = (await Promise.all([1, 2].map((n) => r.store.head(`outputs/team-a/${data.name}/${data.uid}-${n}.png`)))).map(Boolean);
    expect(outputs).toEqual([false, true]);
  });

  it("takes no jobs while paused (storage away), the jobs in hand go on, and takes them again on resume", async () => {
    const runner = new FlipRunner({ delayMs: 600 });
    const r = await rig(runner, { concurrency: 2 });
    const running = jobData(await uploadPng(r.store, "uploads/team-a/in.png"));
    await enqueue(r, running);
    await expect.poll(() => runner.calls, { interval: 10 }).toBe(1);
    await r.consumer.pause();
    const waiting = jobData(running.inputUri!);
    await enqueue(r, waiting);
    expect((await settled(r, running.uid)).returnvalue.width).toBe(40);
    await new Promise((res) => setTimeout(res, 500));
    expect([await r.queue.getJobState(waiting.uid), runner.calls]).toEqual(["waiting", 1]);
    await r.consumer.resume();
    expect(await (await settled(r, waiting.uid)).getState()).toBe("completed");
    expect(r.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["Taking no jobs until storage answers again", "Taking jobs again"]));
  });

  it("drains on stop(): the running job finishes, a job enqueued meanwhile stays waiting", async () => {
    const runner = new FlipRunner({ delayMs: 1000 });
    const r = await rig(runner, { concurrency: 2 });
    const first = jobData(await uploadPng(r.store, "uploads/team-a/in.png"));
    await enqueue(r, first);
    await expect.poll(() => runner.calls, { interval: 10 }).toBe(1); // running, not just taken
    const stopped = r.consumer.stop();
    const second = jobData(first.inputUri!);
    await enqueue(r, second);
    await stopped;
    expect(await r.queue.getJobState(first.uid)).toBe("completed");
    expect(runner.closed).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    expect(await r.queue.getJobState(second.uid)).toBe("waiting");
    expect(runner.calls).toBe(1);
  });
});
