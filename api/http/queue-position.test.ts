import { createServer, type AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { QueueJobData } from "../../common/queue.js";
import { JobQueue } from "../../operator/job-queue.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { testEnv } from "../../test/support/env.js";
import { now, patchStatus } from "../../test/support/job-status.js";
import { readSse, type SseMessage } from "../../test/support/sse.js";
import type { JobQueue as JobQueueView, JobView } from "./schemas.js";
import type { ServerMessage } from "./ws/protocol.js";

// The operator's own JobQueue enqueues into the API's queue prefix: the real BullMQ keys the API reads.
let api: ApiFixture;
let redis: Redis;
let queue: JobQueue;
beforeAll(async () => {
  // Positions read every 50 ms: the events below come soon after each change.
  api = await startApi("api-queue-position", { positionIntervalMs: 50 });
  redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
  queue = new JobQueue(redis, api.prefix);
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await api?.stop();
});

const MODEL = "resize-x2";

/** An ImageJob enqueued as the operator enqueues it, and mirrored as Queued. */
async function queuedJob(name: string, priority: number): Promise<string> {
  const uid = (await api.createJob(name, { priority })).metadata.uid!;
  const data = {
    uid, namespace: api.namespace, name, model: MODEL, modelVersion: "1", params: {}, output: { format: "png" },
    modelSpec: { source: { uri: "builtin:resize-x2" }, task: "image-to-image" },
  } as unknown as QueueJobData;
  await queue.enqueue(data, { maxAttempts: 1, priority, retryBaseDelayMs: 1000 });
  await patchStatus(api, name, { phase: "Queued", attempts: 0, queuedAt: now() });
  await eventually(async () => (await view(uid)).status === "queued", `${name} to be mirrored as queued`);
  return uid;
}

async function view(uid: string, key = api.key): Promise<JobView> {
  const res = await fetch(`${api.url}/v1/jobs/${uid}`, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`GET /v1/jobs/${uid} answered ${res.status}`);
  return (await res.json()) as JobView;
}

async function next(messages: AsyncGenerator<SseMessage>, event: string): Promise<SseMessage> {
  // Not for-await: leaving that loop would end the stream.
  for (let m = await messages.next(); !m.done; m = await messages.next()) if (m.value.event === event) return m.value;
  throw new Error(`the stream ended before an \`${event}\` event`);
}

function wsMessages(ws: WebSocket): () => Promise<ServerMessage> {
  const buffered: ServerMessage[] = [];
  let wake = () => {};
  ws.on("message", (data) => {
    buffered.push(JSON.parse((data as Buffer).toString("utf8")) as ServerMessage);
    wake();
  });
  return async () => {
    while (buffered.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return buffered.shift()!;
  };
}

it("shows a waiting job's place in its queue on GET, SSE and WebSocket, priorities included, and none once it runs", async () => {
  const first = await queuedJob("first", 0);
  const second = await queuedJob("second", 0);
  // No job of the model ended in the last 5 minutes: the start is unknown, not guessed.
  expect((await view(first)).queue).toEqual({ position: 0, waiting: 2, estimated_start_at: null });
  expect((await view(second)).queue).toEqual({ position: 1, waiting: 2, estimated_start_at: null });

  // Another tenant learns nothing of the job, its place included.
  const other = await api.newTenant("queue-position-other");
  await expect(view(second, other.key)).rejects.toThrow(/answered 404/);

  // SSE: the status carries the place; when the job ahead leaves the queue, a position event says so.
  const abort = new AbortController();
  const res = await api.fetch(`${api.url}/v1/jobs/${second}/events`, { signal: abort.signal });
  const messages = readSse(res);
  const status = JSON.parse((await next(messages, "status")).data!) as JobView;
  expect(status.queue).toMatchObject({ position: 1, waiting: 2 });
  expect(await queue.removeWaiting(MODEL, first)).toBe(true);
  expect(JSON.parse((await next(messages, "position")).data!) as JobQueueView).toEqual({ position: 0, waiting: 1, estimated_start_at: null });
  abort.abort();

  // WebSocket: a job of higher priority enqueued later goes ahead of it.
  const ws = new WebSocket(`${api.url.replace(/^http/, "ws")}/v1/ws`, [], { headers: { authorization: `Bearer ${api.key}` } });
  const receive = wsMessages(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  try {
    ws.send(JSON.stringify({ type: "subscribe", jobs: [second] }));
    expect(await receive()).toMatchObject({ type: "status", job: { id: second, queue: { position: 0, waiting: 1 } } });
    expect(await receive()).toMatchObject({ type: "subscribed", jobs: [second] });
    await queuedJob("urgent", 50);
    expect(await receive()).toEqual({ type: "position", job_id: second, queue: { position: 1, waiting: 2, estimated_start_at: null } });
  } finally {
    ws.terminate();
  }

  // Taken by a worker (the queue job is still there, untaken here): no place shown; nor once finished.
  await patchStatus(api, "second", { phase: "Running", attempts: 1, startedAt: now() });
  await eventually(async () => (await view(second)).status === "running", "running");
  expect((await view(second)).queue).toBeNull();
  await patchStatus(api, "second", { phase: "Failed", finishedAt: now(), reason: "InvalidImage", message: "cannot decode the input" });
  await eventually(async () => (await view(second)).status === "failed", "failed");
  expect((await view(second)).queue).toBeNull();
});

it("answers GET with no place, not an error, while Redis cannot be reached", async () => {
  // A port nothing listens on: taken, then let go.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port: p } = s.address() as AddressInfo;
      s.close(() => resolve(p));
    });
  });
  const down = await startApi("api-queue-redis-down", { redisUrl: `redis://127.0.0.1:${port}` });
  try {
    const uid = (await down.createJob("waiting")).metadata.uid!;
    const res = await eventually(async () => {
      const r = await down.fetch(`${down.url}/v1/jobs/${uid}`);
      return r.ok && r;
    }, "the mirror to record the job");
    expect(((await res.json()) as JobView)).toMatchObject({ id: uid, status: "pending", queue: null });
  } finally {
    await down.stop();
  }
});
