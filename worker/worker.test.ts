import { afterEach, expect, it } from "vitest";
import { EventEmitter } from "node:events";
import { Queue } from "bullmq";
import { pino } from "pino";
import sharp from "sharp";
import { randomUUID } from "node:crypto";
import { testEnv, uniqueName } from "../test/support/env.js";
import { loadConfig } from "../common/config.js";
import { ConfigError } from "../common/errors.js";
import { createRedis } from "../common/redis.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../common/queue.js";
import { createObjectStore } from "../common/storage/index.js";
import { FlipRunner } from "../test/support/flip-runner.js";
import { exitOnSignals } from "./queue/shutdown.js";
import { startWorker } from "./worker.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const silent = pino({ level: "silent" });

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { s3, redisUrl } = testEnv();
  const prefix = uniqueName("wk");
  return {
    REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true", WORKER_MODELS: "flip-x2", ...extra,
  };
}

it("refuses to start without WORKER_MODELS", async () => {
  const runner = new FlipRunner();
  const started = startWorker({ config: loadConfig(env({ WORKER_MODELS: " , " })), log: silent, createRunner: () => runner });
  await expect(started).rejects.toThrow(ConfigError);
  await expect(started).rejects.toThrow(/WORKER_MODELS is empty/);
  expect(runner.calls).toBe(0);
});

it("starts from the configuration and drains on SIGTERM, exiting 0 after the running job", async () => {
  const config = loadConfig(env({ WORKER_MODELS: "flip-x2, other", WORKER_CONCURRENCY: "3" }));
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const runner = new FlipRunner({ delayMs: 800 });
  const worker = await startWorker({ config, log, createRunner: () => runner });
  cleanups.push(() => worker.stop());
  expect(logs.find((l) => l.msg === "Worker started")).toMatchObject({ models: ["flip-x2", "other"], concurrency: 3, executionProviders: ["cpu"] });

  const store = createObjectStore(config);
  const redis = createRedis(config.REDIS_URL);
  const queue = new Queue<QueueJobData, QueueJobResult>(queueName("flip-x2"), { connection: redis, prefix: config.QUEUE_PREFIX });
  cleanups.push(async () => { await queue.close(); await redis.quit(); store.close(); });
  await store.put("uploads/team-a/in.png", await sharp({ create: { width: 4, height: 4, channels: 3, background: "#336699" } }).png().toBuffer());
  const uid = randomUUID();
  await queue.add("image", {
    uid, namespace: "team-a", name: "sigterm", model: "flip-x2", modelSpec: { source: { uri: "builtin:flip" }, task: "image-to-image" },
    modelVersion: "1", inputUri: "upload:uploads/team-a/in.png", params: {}, output: { format: "webp" },
  }, { jobId: uid, attempts: 3, backoff: { type: "exponential", delay: 50 } });
  await expect.poll(() => runner.calls, { interval: 10 }).toBe(1); // running, not just taken

  const signals = new EventEmitter();
  const exits: number[] = [];
  const exited = new Promise<void>((resolve) => exitOnSignals(worker.stop, log, signals, (code) => { exits.push(code); resolve(); }));
  signals.emit("SIGTERM", "SIGTERM");
  expect(exits).toEqual([]); // still draining
  await exited;
  expect(exits).toEqual([0]);
  const job = (await queue.getJob(uid))!;
  expect(await job.getState()).toBe("completed");
  expect(job.returnvalue).toMatchObject({ contentType: "image/webp", width: 8, height: 8 });
  expect(job.returnvalue.uri).toMatch(new RegExp(`/outputs/team-a/sigterm/${uid}-1\\.webp$`));
  expect(runner.closed).toBe(true);
});

it("exits at once on a second signal", () => {
  const signals = new EventEmitter();
  const exits: number[] = [];
  exitOnSignals(() => new Promise(() => {}), silent, signals, (code) => exits.push(code));
  signals.emit("SIGINT", "SIGINT");
  expect(exits).toEqual([]);
  signals.emit("SIGTERM", "SIGTERM");
  expect(exits).toEqual([130]);
});
