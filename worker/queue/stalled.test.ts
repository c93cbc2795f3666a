import { afterEach, expect, it } from "vitest";
import { Queue } from "bullmq";
import { pino } from "pino";
import sharp from "sharp";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { createRedis } from "../../common/redis.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../../common/queue.js";
import { createObjectStore } from "../../common/storage/index.js";
import { BucketStores } from "../../common/storage/bucket-stores.js";
import { Consumer } from "./consumer.js";
import { FlipRunner } from "../../test/support/flip-runner.js";
import { InputFetcher } from "../input/input-fetcher.js";

const MODEL = "flip-x2";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A second process consuming the same queue with a runner that never finishes in time. */
const CHILD = `
const root = process.env.PIXELMILL_ROOT;
const { Consumer } = await import(new URL("worker/queue/consumer.ts", root).href);
const { InputFetcher } = await import(new URL("worker/input/input-fetcher.ts", root).href);
const { FlipRunner } = await import(new URL("test/support/flip-runner.ts", root).href);
const { BucketStores } = await import(new URL("common/storage/bucket-stores.ts", root).href);
const { createObjectStore } = await import(new URL("common/storage/index.ts", root).href);
const { createLogger } = await import(new URL("common/logger.ts", root).href);
const rig = JSON.parse(process.env.RIG);
const store = createObjectStore(rig.storage);
const buckets = new BucketStores(rig.storage);
const input = new InputFetcher({ store, bucketStore: buckets.for, maxBytes: 1e7, timeoutMs: 5000 });
await new Consumer({ ...rig.consumer, runner: new FlipRunner({ delayMs: 600000 }), input, store, log: createLogger({ level: "silent" }) }).start();
process.send("ready");
`;

it("gives the job of a worker killed mid-job to another worker once its lock expires", async () => {
  const { s3, redisUrl } = testEnv();
  const prefix = uniqueName("stalled");
  const storage = {
    STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true,
  };
  // Short lock and check interval so the test takes seconds; production keeps BullMQ's defaults.
  const consumerOpts = { redisUrl, prefix, models: [MODEL], concurrency: 1, lockDuration: 1000, stalledInterval: 500 };
  const store = createObjectStore(storage);
  const buckets = new BucketStores(storage);
  const redis = createRedis(redisUrl);
  const queue = new Queue<QueueJobData, QueueJobResult>(queueName(MODEL), { connection: redis, prefix });
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-stalled-"));
  cleanups.push(async () => {
    await queue.close();
    await redis.quit();
    store.close();
    buckets.close();
    await rm(dir, { recursive: true, force: true });
  });

  await writeFile(join(dir, "child.mjs"), CHILD);
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(dir, "child.mjs")], {
    cwd: process.cwd(),
    env: { ...process.env, PIXELMILL_ROOT: new URL("../../", import.meta.url).href, RIG: JSON.stringify({ storage, consumer: consumerOpts }) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  cleanups.push(() => Promise.resolve(child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
  expect((await once(child, "message"))[0]).toBe("ready");

  const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: "#808080" } }).png().toBuffer();
  await store.put("uploads/team-a/in.png", png);
  const data: QueueJobData = {
    uid: randomUUID(), namespace: "team-a", name: "killed", model: MODEL, modelSpec: { source: { uri: "builtin:flip" }, task: "image-to-image" },
    modelVersion: "1", inputUri: "upload:uploads/team-a/in.png", params: {}, output: { format: "png" },
  };
  await queue.add("image", data, { jobId: data.uid, attempts: 3, backoff: { type: "exponential", delay: 50 } });
  await expect.poll(() => queue.getJobState(data.uid), { interval: 20 }).toBe("active");
  child.kill("SIGKILL");
  await once(child, "exit");

  const input = new InputFetcher({ store, bucketStore: buckets.for, maxBytes: 1e7, timeoutMs: 5000 });
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const consumer = new Consumer({ ...consumerOpts, runner: new FlipRunner(), input, store, log });
  await consumer.start();
  cleanups.push(() => consumer.stop());
  await expect.poll(() => queue.getJobState(data.uid), { timeout: 15_000, interval: 100 }).toBe("completed");
  const job = (await queue.getJob(data.uid))!;
  expect(job.stalledCounter).toBe(1);
  expect(logs.find((l) => l.msg === "Stalled job requeued")).toMatchObject({ jobUid: data.uid, model: MODEL });
  expect(job.attemptsStarted).toBe(2);
  expect(job.returnvalue).toMatchObject({ width: 16, height: 12 });
  // The killed attempt never counted, so the retry writes the first attempt's key (overwriting is harmless).
  expect(job.returnvalue.uri).toBe(store.uri(`outputs/team-a/killed/${data.uid}-1.png`));
});
