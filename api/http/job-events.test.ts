import { afterAll, beforeAll, expect, it } from "vitest";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import type { JobView } from "./job-presenter.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { readSse, type SseMessage } from "../../test/support/sse.js";
import { patchStatus, runToSuccess } from "../../test/support/job-status.js";
import { Redis } from "ioredis";
import { testEnv } from "../../test/support/env.js";
import { createLogger } from "../../common/logger.js";
import { progressChannel } from "../../common/job/progress.js";
import { ProgressPublisher } from "../../worker/queue/progress-publisher.js";

let api: ApiFixture;
beforeAll(async () => {
  api = await startApi("api-sse", { sseKeepaliveMs: 100 });
});
afterAll(async () => api?.stop());

/** An ImageJob made through the Kubernetes API, once the mirror has it. */
async function mirroredJob(name: string): Promise<string> {
  const uid = (await api.createJob(name)).metadata.uid!;
  await eventually(async () => (await api.fetch(`${api.url}/v1/jobs/${uid}`)).ok, "the mirror to record the job");
  return uid;
}

async function follow(uid: string, signal?: AbortSignal): Promise<AsyncGenerator<SseMessage>> {
  const res = await api.fetch(`${api.url}/v1/jobs/${uid}/events`, { signal });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  return readSse(res);
}

/** The status events until the server ends the stream. */
async function statusesUntilClosed(messages: AsyncGenerator<SseMessage>): Promise<JobView[]> {
  const views: JobView[] = [];
  for await (const m of messages) if (m.event === "status") views.push(JSON.parse(m.data!) as JobView);
  return views;
}

it("sends the current state, then queued, running and succeeded in order, then closes", async () => {
  const uid = await mirroredJob("streamed");
  const messages = await follow(uid);
  const first = (await messages.next()).value as SseMessage;
  expect(first.event).toBe("status");
  expect(JSON.parse(first.data!)).toMatchObject({ id: uid, status: "pending", urls: { events: `${api.url}/v1/jobs/${uid}/events` } });

  const put = await api.store.put(`outputs/${uid}/1.png`, Buffer.from("not really a png"), { contentType: "image/png" });
  await runToSuccess(api, "streamed", { uri: api.store.uri(put.key), contentType: "image/png", width: 1, height: 1, bytes: put.bytes });
  const rest = await statusesUntilClosed(messages);
  expect(rest.map((v) => v.status)).toEqual(["queued", "running", "succeeded"]);
  expect(rest[2]!.output?.url).toMatch(/^http/);
});

it("sends one event and closes for a job that has already finished", async () => {
  const uid = await mirroredJob("done-before");
  await patchStatus(api, "done-before", { phase: "Failed", reason: "InputNotFound", message: "gone" });
  await eventually(async () => ((await (await api.fetch(`${api.url}/v1/jobs/${uid}`)).json()) as JobView).status === "failed", "failed");
  const views = await statusesUntilClosed(await follow(uid));
  expect(views.map((v) => [v.status, v.error?.reason])).toEqual([["failed", "InputNotFound"]]);
});

it("closes when the ImageJob is deleted before it finishes", async () => {
  const uid = await mirroredJob("deleted-while-followed");
  const messages = await follow(uid);
  expect((await messages.next()).value).toMatchObject({ event: "status" });
  await api.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name: "deleted-while-followed" });
  // Deleted before it finished is canceled: that state, and then the end of the stream.
  const views = await statusesUntilClosed(messages);
  expect(views.map((v) => v.status)).toEqual(["canceled"]);
});

it("keeps an idle stream alive with comments, and forgets a client that went away", async () => {
  const uid = await mirroredJob("idle");
  const abort = new AbortController();
  const messages = await follow(uid, abort.signal);
  expect((await messages.next()).value).toMatchObject({ event: "status" });
  expect((await messages.next()).value).toEqual({ comment: "keepalive" });
  expect(api.events.followed).toBe(1);
  abort.abort();
  await eventually(() => api.events.followed === 0, "the stream to unsubscribe");
});

it("answers 404 problem for the events of an unknown job", async () => {
  const res = await api.fetch(`${api.url}/v1/jobs/00000000-0000-4000-8000-000000000000/events`);
  expect(res.status).toBe(404);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(api.events.followed).toBe(0);
});

it("relays workers' progress from Redis to the job's followers, and never another namespace's report of the same UID", async () => {
  const uid = await mirroredJob("progressing");
  const messages = await follow(uid);
  expect((await messages.next()).value).toMatchObject({ event: "status" });
  const redis = new Redis(testEnv().redisUrl);
  try {
    const publisher = new ProgressPublisher(redis, api.prefix, createLogger({ level: "silent" }), 0);
    const report = (namespace: string, done: number) => publisher.report({ uid, namespace, attempt: 1, stage: "inference", step: { done, total: 9 }, elapsedMs: done });
    const next = async (): Promise<SseMessage> => {
      for (;;) {
        const m = (await messages.next()).value as SseMessage;
        if (m.event) return m;
      }
    };
    report("someone-else", 1);
    await redis.publish(progressChannel(api.prefix), "not json");
    report(api.namespace, 2);
    // The first event this namespace's follower hears is its own report, without the namespace or UID.
    const heard = await next();
    expect(heard.event).toBe("progress");
    expect(JSON.parse(heard.data!)).toEqual({ attempt: 1, stage: "inference", step: { done: 2, total: 9 }, elapsedMs: 2 });
  } finally {
    redis.disconnect();
  }
});
