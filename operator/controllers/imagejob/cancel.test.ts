import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { pino } from "pino";
import sharp from "sharp";
import { randomUUID } from "node:crypto";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, type ImageJob } from "../../../common/crd-types.js";
import { cancelMarkerKey, queueName, type QueueJobData, type QueueJobResult } from "../../../common/queue.js";
import { createRedis } from "../../../common/redis.js";
import { testEnv, uniqueName } from "../../../test/support/env.js";
import { startApi, eventually, type ApiFixture } from "../../../test/support/api-fixture.js";
import { BucketStores } from "../../../common/storage/bucket-stores.js";
import { Consumer } from "../../../worker/queue/consumer.js";
import { FlipRunner } from "../../../test/support/flip-runner.js";
import { InputFetcher } from "../../../worker/input/input-fetcher.js";
import type { Runner, RunRequest, RunResult } from "../../../worker/runner.js";
import { startOperator, type Operator } from "../../operator.js";

// The API, the operator and a real worker (the test-only FlipRunner instead of an ONNX model)
// on one namespace: cancel and deadlines end to end, asserted on the queue, S3 and the API.
const SERVED = "resize-x2"; // the fixture's model, served by the worker below
const IDLE = "idle"; // a model no worker serves: its jobs wait
const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const redis = createRedis(testEnv().redisUrl);
const prefix = uniqueName("cancel");
let api: ApiFixture;
let operator: Operator;
let consumer: Consumer;
let buckets: BucketStores;
let inputUri: string;

/** FlipRunner, but a job whose params say `hold` runs until its signal fires; counts runs per job. */
class HoldingRunner implements Runner {
  readonly flip = new FlipRunner();
  readonly runs: string[] = [];
  async run(req: RunRequest): Promise<RunResult> {
    this.runs.push(String(req.params.tag));
    if (req.params.hold) await sleep(120_000, undefined, { signal: req.signal });
    return this.flip.run(req);
  }
  close(): Promise<void> {
    return this.flip.close();
  }
}
const runner = new HoldingRunner();

const queue = (model: string) => new Queue<QueueJobData, QueueJobResult>(queueName(model), { connection: redis, prefix });
const startOp = (graceMs?: number) => startOperator({
  kc: api.kc, redisUrl: testEnv().redisUrl, queuePrefix: prefix, namespace: api.namespace, log, retryBaseDelayMs: 100, resyncMs: 60_000, cancelSweepGraceMs: graceMs,
});

beforeAll(async () => {
  api = await startApi("cancel");
  await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEMODEL_PLURAL, body: {
    apiVersion: API_VERSION, kind: "ImageModel", metadata: { name: IDLE },
    spec: { source: { uri: "builtin:grayscale" }, task: "image-to-image", input: { range: { min: 0, max: 1 } }, output: { kind: "image", scale: 1 } },
  } });
  await api.store.put(`uploads/${api.namespace}/in.png`, await sharp({ create: { width: 4, height: 3, channels: 3, background: "#336699" } }).png().toBuffer(), { contentType: "image/png" });
  inputUri = `upload:uploads/${api.namespace}/in.png`;
  const env = testEnv();
  buckets = new BucketStores({ S3_ENDPOINT: env.s3.endpoint, S3_REGION: env.s3.region, S3_ACCESS_KEY_ID: env.s3.accessKeyId, S3_SECRET_ACCESS_KEY: env.s3.secretAccessKey, S3_FORCE_PATH_STYLE: true });
  const input = new InputFetcher({ store: api.store, bucketStore: buckets.for, maxBytes: 10 * 1024 * 1024, timeoutMs: 5000 });
  // One job at a time: a second job of the served model waits while the first one holds.
  consumer = new Consumer({ redisUrl: env.redisUrl, prefix, models: [SERVED], concurrency: 1, runner, input, store: api.store, log, stalledInterval: 1000 });
  await consumer.start();
  operator = await startOp();
});

afterAll(async () => {
  await operator?.stop();
  await consumer?.stop();
  buckets?.close();
  redis.disconnect();
  await api?.stop();
});

const create = (name: string, spec: Partial<ImageJob["spec"]> = {}) => api.createJob(name, { model: SERVED, input: { uri: inputUri }, params: { tag: name }, ...spec });
const getJob = async (name: string) => (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name }).catch(() => undefined)) as ImageJob | undefined;
const kubectlDelete = (name: string) => api.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name });
const phaseOf = async (name: string) => (await getJob(name))?.status?.phase;
const outputsOf = async (name: string) => (await api.listKeys()).filter((k) => k.startsWith(`outputs/${api.namespace}/${name}/`));
const del = (uid: string) => api.fetch(`${api.url}/v1/jobs/${uid}`, { method: "DELETE" });

describe("cancel", () => {
  it("drops a waiting job from the queue, and aborts a running one deleted through the API: no retry, no output", async () => {
    const running = await create("holder", { params: { tag: "holder", hold: true }, maxAttempts: 3 });
    await eventually(async () => (await phaseOf("holder")) === "Running", "holder to run");
    const waiting = await create("waiter");
    await eventually(async () => (await phaseOf("waiter")) === "Queued", "waiter to be queued");
    expect(await queue(SERVED).getJobState(waiting.metadata.uid!)).toBe("prioritized");

    await kubectlDelete("waiter");
    await eventually(async () => (await queue(SERVED).getJob(waiting.metadata.uid!)) === undefined, "the waiting job to leave the queue");

    await eventually(() => api.jobs.get(api.namespace, running.metadata.uid!), "the mirror to record the holder");
    const first = await del(running.metadata.uid!);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ id: running.metadata.uid, status: "canceled", error: { reason: "Canceled" }, output: null });
    expect(await getJob("holder")).toBeUndefined();

    const uid = running.metadata.uid!;
    const q = await eventually(async () => (await queue(SERVED).getJobState(uid)) === "failed" && (await queue(SERVED).getJob(uid)), "the attempt to be aborted");
    expect(q.failedReason).toMatch(/^Canceled: /);
    expect(q.attemptsStarted).toBe(1); // not retried, though maxAttempts is 3

    const again = await del(running.metadata.uid!);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id: running.metadata.uid, status: "canceled" });
    const got = await api.fetch(`${api.url}/v1/jobs/${running.metadata.uid}`);
    expect(await got.json()).toMatchObject({ status: "canceled", error: { reason: "Canceled", message: "deleted before it finished" } });

    // The worker is free again, and the deleted waiter never ran: a job after it runs, alone.
    await create("after");
    await eventually(async () => (await phaseOf("after")) === "Succeeded", "the next job to succeed");
    expect(runner.runs.filter((r) => r === "waiter")).toEqual([]);
    expect(runner.runs.filter((r) => r === "holder")).toEqual(["holder"]);
    expect(await outputsOf("holder")).toEqual([]);
    expect(await outputsOf("waiter")).toEqual([]);
    expect(await outputsOf("after")).toHaveLength(1);
  });

  it("refuses to cancel a finished job with 409, and an unknown one with 404", async () => {
    const done = await create("finished");
    await eventually(async () => (await api.jobs.get(api.namespace, done.metadata.uid!))?.phase === "Succeeded", "the job to succeed");
    const res = await del(done.metadata.uid!);
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/job-finished", status: 409, job_status: "succeeded" });
    expect(await phaseOf("finished")).toBe("Succeeded"); // still there, untouched
    const unknown = await del(randomUUID());
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("a worker that missed the cancel message honours the marker when the job starts", async () => {
    const uid = randomUUID();
    await redis.set(cancelMarkerKey(prefix, uid), "1", "EX", 60);
    await queue(SERVED).add("image", {
      uid, namespace: api.namespace, name: "marked", model: SERVED, modelSpec: { source: { uri: "builtin:flip" }, task: "image-to-image" },
      modelVersion: "1", inputUri, params: { tag: "marked" }, output: { format: "png" },
    }, { jobId: uid, attempts: 3 });
    // Read the job again once it failed: the copy read before its state may predate the failure.
    const job = await eventually(async () => (await queue(SERVED).getJobState(uid)) === "failed" && (await queue(SERVED).getJob(uid)), "the marked job to fail");
    expect(job.failedReason).toBe("Canceled: the job was canceled before it started");
    expect(job.attemptsStarted).toBe(1);
    expect(runner.runs).not.toContain("marked");
  });

  it("cancels, when the operator starts again, a job deleted while it was down", async () => {
    const job = await create("missed", { model: IDLE });
    await eventually(async () => (await phaseOf("missed")) === "Queued", "the job to be queued");
    await operator.stop();
    await kubectlDelete("missed");
    expect(await queue(IDLE).getJob(job.metadata.uid!)).toBeDefined(); // nobody canceled it
    operator = await startOp(0);
    await eventually(async () => (await queue(IDLE).getJob(job.metadata.uid!)) === undefined, "the sweep to remove the queue job");
    expect(await redis.exists(cancelMarkerKey(prefix, job.metadata.uid!))).toBe(1);
    // A job that does exist, waiting just as long, is left alone by the sweep.
    const kept = await create("kept", { model: IDLE });
    await eventually(async () => (await phaseOf("kept")) === "Queued", "kept to be queued");
    await operator.stop();
    operator = await startOp(0);
    await eventually(async () => (await api.jobs.get(api.namespace, kept.metadata.uid!))?.phase === "Queued", "the mirror to see it queued");
    expect(await queue(IDLE).getJobState(kept.metadata.uid!)).toBe("prioritized");
    await kubectlDelete("kept");
  });
});

describe("start deadline", () => {
  it("fails a job nobody starts in time with DeadlineExceeded and removes it from the queue", async () => {
    const job = await create("late", { model: IDLE, startDeadlineSeconds: 1 });
    const failed = await eventually(async () => {
      const j = await getJob("late");
      return j?.status?.phase === "Failed" && j;
    }, "the job to miss its deadline");
    expect(failed.status).toMatchObject({ phase: "Failed", reason: "DeadlineExceeded", attempts: 0 });
    expect(failed.status!.message).toContain("startDeadlineSeconds (1 s)");
    expect(await queue(IDLE).getJob(job.metadata.uid!)).toBeUndefined();
    const view = await eventually(async () => {
      const v = (await (await api.fetch(`${api.url}/v1/jobs/${job.metadata.uid}`)).json()) as { status?: string };
      return v.status === "failed" && v;
    }, "the API to show it failed");
    expect(view).toMatchObject({ error: { reason: "DeadlineExceeded" } });
  });

  it("leaves a job that starts in time alone", async () => {
    await create("prompt", { startDeadlineSeconds: 30 });
    await eventually(async () => (await phaseOf("prompt")) === "Succeeded", "the job to succeed");
    expect((await getJob("prompt"))?.status?.reason).toBeUndefined();
  });
});
