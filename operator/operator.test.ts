import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node";
import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { kubeConfig, testEnv, uniqueName } from "../test/support/env.js";
import { GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, WORKERPOOL_PLURAL, type ImageJob } from "../common/crd-types.js";
import { INPUT_BUCKETS_ANNOTATION } from "../common/job/input-grants.js";
import { createLogger } from "../common/logger.js";
import { parsePoolSample, poolHistoryKey } from "../common/pool-history.js";
import { NOTIFY_STREAM, queueName, type QueueJobData, type QueueJobResult } from "../common/queue.js";
import { startOperator, type Operator } from "./operator.js";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const namespace = uniqueName("operator");
const prefix = uniqueName("q");
const redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
const log = createLogger({ level: "warn" });
let operator: Operator;
let worker: Worker<QueueJobData, QueueJobResult>;
/** What the test worker does with each job, by ImageJob name. */
const behaviour = new Map<string, (job: Job<QueueJobData>) => Promise<QueueJobResult>>();

const notify = (job: Job<QueueJobData>) => redis.xadd(`${prefix}:${NOTIFY_STREAM}`, "*", "uid", job.data.uid, "namespace", job.data.namespace, "name", job.data.name);

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEMODEL_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "ImageModel", metadata: { name: "echo" },
    spec: { source: { uri: "builtin:grayscale" }, task: "image-to-image", input: { layout: "NCHW", colorOrder: "RGB", range: { min: 0, max: 1 } }, output: { kind: "image", scale: 1 } },
  } });
  // A real BullMQ consumer standing in for the ONNX worker: the operator is tested against the queue contract.
  worker = new Worker<QueueJobData, QueueJobResult>(queueName("echo"), async (job) => {
    await notify(job);
    const run = behaviour.get(job.data.name);
    if (!run) throw new UnrecoverableError("InvalidParams: no behaviour for this job");
    return run(job);
  }, { connection: redis.duplicate(), prefix, concurrency: 4 });
  worker.on("completed", (job) => void notify(job));
  worker.on("failed", (job) => job && void notify(job));
  operator = await startOperator({ kc, redisUrl: testEnv().redisUrl, queuePrefix: prefix, namespace, log, retryBaseDelayMs: 100, resyncMs: 60_000 });
});

afterAll(async () => {
  await operator?.stop();
  await worker?.close();
  redis.disconnect();
  await core.deleteNamespace({ name: namespace });
});

async function createJob(name: string, spec: Partial<ImageJob["spec"]> = {}): Promise<ImageJob> {
  return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "ImageJob", metadata: { name },
    spec: { model: "echo", input: { uri: "s3://pixelmill/inputs/x.png" }, ...spec },
  } })) as ImageJob;
}

async function getJob(name: string): Promise<ImageJob | undefined> {
  return (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, name }).catch(() => undefined)) as ImageJob | undefined;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const result = { uri: "s3://pixelmill/outputs/x.png", contentType: "image/png", width: 2, height: 2, bytes: 70, usage: { runSeconds: 0.3, gpus: 1, gpuSeconds: 0.3 } };

describe("ImageJob controller", () => {
  it("takes a job to Succeeded in at most 5 writes, the TTL delete included", async () => {
    const events: string[] = [];
    const name = "ok";
    const phases: string[] = [];
    const watch = await new Watch(kc).watch(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${IMAGEJOB_PLURAL}`, { fieldSelector: `metadata.name=${name}` },
      (type, obj: ImageJob) => { events.push(type); phases.push(obj.status?.phase ?? "-"); }, () => {});
    behaviour.set(name, async () => (await new Promise((r) => setTimeout(r, 300)), result));
    const created = await createJob(name, { ttlSecondsAfterFinished: 2 });
    const done = await waitFor("Succeeded", async () => ((await getJob(name))?.status?.phase === "Succeeded" ? getJob(name) : undefined));
    expect(done.status).toMatchObject({ phase: "Succeeded", attempts: 1, output: result, observedGeneration: 1 });
    expect(done.status!.conditions?.find((c) => c.type === "Complete")).toMatchObject({ status: "True", reason: "Succeeded" });
    for (const t of ["queuedAt", "startedAt", "finishedAt"] as const) expect(done.status![t]).toMatch(/Z$/);
    await waitFor("TTL delete", async () => ((await getJob(name)) ? undefined : true), 15_000);
    await waitFor("DELETED event", () => Promise.resolve(events.includes("DELETED") ? true : undefined));
    (watch as { abort(): void }).abort();
    // Every write to the ImageJob shows as one watch event: create, status writes, delete.
    expect(events.length, `${events.join(",")} ${phases.join(",")}`).toBeLessThanOrEqual(5);
    expect(events[0]).toBe("ADDED");
    expect(phases).toContain("Succeeded");
    const queued = await new Queue(queueName("echo"), { connection: redis, prefix }).getJob(created.metadata.uid!);
    expect(queued?.id).toBe(created.metadata.uid); // queue job id = ImageJob UID
  });

  it("enqueues each job with the input buckets its namespace's annotation grants, none without it", async () => {
    const seen = new Map<string, string[] | undefined>();
    const record = (job: Job<QueueJobData>) => (seen.set(job.data.name, job.data.inputBuckets), Promise.resolve(result));
    behaviour.set("ungranted", record);
    await createJob("ungranted");
    expect(await waitFor("the ungranted job to run", () => Promise.resolve(seen.has("ungranted") ? seen.get("ungranted") : undefined))).toEqual([]);
    await core.patchNamespace(
      { name: namespace, body: { metadata: { annotations: { [INPUT_BUCKETS_ANNOTATION]: "bucket-a, bucket-b" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    // A grant holds for jobs enqueued once the operator has seen it.
    let n = 0;
    const granted = await waitFor("a job enqueued with the grant", async () => {
      const name = `granted-${++n}`;
      behaviour.set(name, record);
      await createJob(name);
      const buckets = await waitFor(`${name} to run`, () => Promise.resolve(seen.has(name) ? (seen.get(name) ?? null) : undefined));
      return buckets !== null && buckets.length > 0 ? buckets : undefined;
    });
    expect(granted).toEqual(["bucket-a", "bucket-b"]);
  });

  it("says a waiting job's model has no WorkerPool, until a pool lists it", async () => {
    // An ImageModel no consumer and no WorkerPool serves: the job waits in its queue.
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEMODEL_PLURAL, body: {
      apiVersion: `${GROUP}/${VERSION}`, kind: "ImageModel", metadata: { name: "unserved" },
      spec: { source: { uri: "builtin:grayscale" }, task: "image-to-image", input: { range: { min: 0, max: 1 } }, output: { kind: "image" } },
    } });
    await createJob("waits", { model: "unserved" });
    const waiting = await waitFor("NoWorkerPool", async () => ((await getJob("waits"))?.status?.reason === "NoWorkerPool" ? getJob("waits") : undefined));
    expect(waiting.status).toMatchObject({ phase: "Queued", message: "no WorkerPool lists model unserved in spec.models: the job waits until one does" });
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, body: {
      apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: "serves-it" },
      spec: { image: "pixelmill/worker:test", models: ["unserved"], autoscaling: { minReplicas: 0, maxReplicas: 1 } },
    } });
    const served = await waitFor("the reason cleared", async () => {
      const job = await getJob("waits");
      return job?.status?.phase === "Queued" && job.status.reason === undefined ? job : undefined;
    });
    expect(served.status?.message).toBeUndefined();
    // The pool's reconciler also records it for the console's last-hour chart (common/pool-history.ts).
    const history = poolHistoryKey(prefix, namespace, "serves-it");
    const samples = await waitFor("a pool sample", async () => {
      const raw = await redis.lrange(history, 0, -1);
      return raw.length ? raw.map(parsePoolSample) : undefined;
    });
    expect(samples[0]).toMatchObject({ waiting: 1, inFlight: 0, at: expect.any(Number) as number });
    expect(await redis.ttl(history)).toBeGreaterThan(0);
  });

  it("fails a job whose model does not exist with InvalidSpec and a Warning event", async () => {
    await createJob("nomodel", { model: "no-such-model" });
    const job = await waitFor("Failed", async () => ((await getJob("nomodel"))?.status?.phase === "Failed" ? getJob("nomodel") : undefined));
    expect(job.status).toMatchObject({ phase: "Failed", reason: "InvalidSpec" });
    expect(job.status!.message).toContain('ImageModel "no-such-model" not found');
    const ev = await waitFor("event", async () => (await core.listNamespacedEvent({ namespace })).items.find((e) => e.involvedObject.name === "nomodel"));
    expect(ev).toMatchObject({ type: "Warning", reason: "InvalidSpec" });
  });

  it("retries a failing attempt with backoff, then succeeds, and shows the attempts", async () => {
    let calls = 0;
    behaviour.set("flaky", () => (++calls === 1 ? Promise.reject(new Error("InferenceError: out of memory")) : Promise.resolve(result)));
    await createJob("flaky", { maxAttempts: 3 });
    const job = await waitFor("Succeeded", async () => ((await getJob("flaky"))?.status?.phase === "Succeeded" ? getJob("flaky") : undefined));
    expect(job.status).toMatchObject({ phase: "Succeeded", attempts: 2 });
    expect(job.status!.reason).toBeUndefined();
  });

  it("ends a job after an unrecoverable failure with the worker's reason, after one attempt", async () => {
    behaviour.set("bad", () => Promise.reject(new UnrecoverableError("InvalidImage: not a PNG")));
    await createJob("bad", { maxAttempts: 5 });
    const job = await waitFor("Failed", async () => ((await getJob("bad"))?.status?.phase === "Failed" ? getJob("bad") : undefined));
    expect(job.status).toMatchObject({ phase: "Failed", reason: "InvalidImage", message: "not a PNG", attempts: 1 });
  });

  it("enqueues once however often the job is reconciled (operator restarted mid-stream)", async () => {
    behaviour.set("once", async () => (await new Promise((r) => setTimeout(r, 1500)), result));
    const created = await createJob("once");
    await waitFor("Queued or Running", async () => (["Queued", "Running"].includes((await getJob("once"))?.status?.phase ?? "") ? true : undefined));
    await operator.stop();
    operator = await startOperator({ kc, redisUrl: testEnv().redisUrl, queuePrefix: prefix, namespace, log, retryBaseDelayMs: 100 });
    await waitFor("Succeeded", async () => ((await getJob("once"))?.status?.phase === "Succeeded" ? true : undefined));
    const q = new Queue<QueueJobData>(queueName("echo"), { connection: redis, prefix });
    const all = await q.getJobs(["completed", "failed", "waiting", "active", "delayed", "prioritized"]);
    expect(all.filter((j) => j.data.uid === created.metadata.uid)).toHaveLength(1);
  });
});
