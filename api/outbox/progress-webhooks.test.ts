import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { createRedis } from "../../common/redis.js";
import { progressChannel, type JobProgress } from "../../common/job/progress.js";
import type { Api } from "../assemble.js";
import { PrismaWebhookOutbox } from "../data/webhook-outbox-repository.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { now, patchStatus } from "../../test/support/job-status.js";
import { startReplica } from "../../test/support/replica-api.js";
import { testEnv } from "../../test/support/env.js";

// Progress webhooks are coalesced: at most one pending per job. No sender runs here, so what the
// outbox holds is what progress reports alone made, heard by two replicas.
const webhooks = { secretsKey: randomBytes(32).toString("base64"), sender: false, addressPolicy: "any" as const, allowHttp: true };
let api: ApiFixture;
let replica: Api;
let redis: Redis;
let outbox: PrismaWebhookOutbox;

beforeAll(async () => {
  api = await startApi("progress-webhooks", { webhooks });
  replica = await startReplica(api, { webhooks });
  redis = createRedis(testEnv().redisUrl);
  outbox = new PrismaWebhookOutbox(api.prisma);
});
afterAll(async () => {
  redis?.disconnect();
  await replica?.stop();
  await api?.stop();
});

const progressRows = (jobUid: string) => api.prisma.webhookOutbox.findMany({ where: { jobUid, event: "progress" }, orderBy: { seq: "asc" } });
const report = (uid: string, done: number): JobProgress => ({ uid, namespace: api.namespace, attempt: 1, stage: "inference", step: { done, total: 50 }, elapsedMs: done * 10 });

describe("progress webhooks", () => {
  it("keep one pending message per job, holding the newest of 50 steps heard by both replicas", async () => {
    const job = await api.createJob("diffusing", { webhook: { url: "http://127.0.0.1:9/hook", events: ["progress", "completed"] } });
    const uid = job.metadata.uid!;
    await patchStatus(api, "diffusing", { phase: "Running", attempts: 1, startedAt: now() });
    await eventually(async () => (await api.jobs.get(api.namespace, uid))?.phase === "Running", "the job to be mirrored running");
    for (let done = 1; done <= 50; done++) await redis.publish(progressChannel(api.prefix), JSON.stringify(report(uid, done)));
    const rows = await eventually(async () => {
      const found = await progressRows(uid);
      return found.length === 1 && (found[0]!.payload as { data: { step: { done: number } } }).data.step.done === 50 && found;
    }, "the progress message to hold step 50");
    expect(rows[0]!.state).toBe("pending");
    expect((rows[0]!.payload as { type: string }).type).toBe("job.progress");
    // A report no newer than the one written (the other replica's copy of it, or a late one) changes nothing.
    expect(await outbox.enqueueProgress(report(uid, 50), new Date())).toBe(false);
    expect(await outbox.enqueueProgress(report(uid, 49), new Date())).toBe(false);
  });

  it("start a new message while one is being sent, and supersede a failed one that a newer one waits behind", async () => {
    const job = await api.createJob("sending", { webhook: { url: "http://127.0.0.1:9/hook", events: ["progress"] } });
    const uid = job.metadata.uid!;
    await patchStatus(api, "sending", { phase: "Running", attempts: 1, startedAt: now() });
    await eventually(async () => (await api.jobs.get(api.namespace, uid))?.phase === "Running", "the job to be mirrored running");
    expect(await outbox.enqueueProgress(report(uid, 1), new Date())).toBe(true);
    const claimed = (await outbox.claim(100, 60_000)).filter((m) => m.jobUid === uid);
    expect(claimed).toHaveLength(1);
    expect(await outbox.enqueueProgress(report(uid, 2), new Date())).toBe(true);
    expect((await progressRows(uid)).map((r) => r.state)).toEqual(["sending", "pending"]);
    await outbox.recordAttempt(claimed[0]!.id, { outcome: "failed", statusCode: 500, latencyMs: 1, responseExcerpt: "", error: "answered 500" }, { state: "pending", nextAttemptAt: new Date() });
    expect((await progressRows(uid)).map((r) => r.state)).toEqual(["superseded", "pending"]);
  });

  it("are not written for a finished job, nor for one that did not ask for them", async () => {
    const quiet = await api.createJob("quiet", { webhook: { url: "http://127.0.0.1:9/hook", events: ["completed"] } });
    await patchStatus(api, "quiet", { phase: "Running", attempts: 1, startedAt: now() });
    await eventually(async () => (await api.jobs.get(api.namespace, quiet.metadata.uid!))?.phase === "Running", "the job to be mirrored running");
    expect(await outbox.enqueueProgress(report(quiet.metadata.uid!, 1), new Date())).toBe(false);
    const done = await api.createJob("done", { webhook: { url: "http://127.0.0.1:9/hook", events: ["progress"] } });
    await patchStatus(api, "done", { phase: "Succeeded", finishedAt: now(), output: {} });
    await eventually(async () => (await api.jobs.get(api.namespace, done.metadata.uid!))?.phase === "Succeeded", "the job to be mirrored finished");
    expect(await outbox.enqueueProgress(report(done.metadata.uid!, 1), new Date())).toBe(false);
  });
});
