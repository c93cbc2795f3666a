import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { Redis } from "ioredis";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, VERSION } from "../../../common/crd-types.js";
import { createLogger } from "../../../common/logger.js";
import { eventually, startApi, type ApiFixture } from "../../../test/support/api-fixture.js";
import { testEnv } from "../../../test/support/env.js";
import { now, patchStatus } from "../../../test/support/job-status.js";
import { ProgressPublisher } from "../../../worker/queue/progress-publisher.js";
import type { JobView } from "../schemas.js";
import { MAX_BAD_MESSAGES, type ServerMessage } from "./protocol.js";
import { WsTickets } from "./ws-tickets.js";

let api: ApiFixture;
let redis: Redis;
beforeAll(async () => {
  // Pings every 100 ms: a dead client is dropped within two of them.
  api = await startApi("api-ws", { wsHeartbeatMs: 100 });
  redis = new Redis(testEnv().redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await api?.stop();
});

type Status = Extract<ServerMessage, { type: "status" }>;

/** One test's connection: every message it got, read in order by next(). */
class Client {
  readonly messages: ServerMessage[] = [];
  pings = 0;
  readonly closed: Promise<{ code: number; reason: string }>;
  private read = 0;
  private wake: () => void = () => {};

  constructor(readonly ws: WebSocket) {
    // A reset shows as the close below.
    ws.on("error", () => {});
    ws.on("message", (data) => {
      this.messages.push(JSON.parse((data as Buffer).toString("utf8")) as ServerMessage);
      this.wake();
    });
    ws.on("ping", () => {
      this.pings++;
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => {
      resolve({ code, reason: String(reason) });
      this.wake();
    }));
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message not read yet that `match` takes; the others before it are read past. */
  async next<T extends ServerMessage = ServerMessage>(match: (m: ServerMessage) => boolean = () => true): Promise<T> {
    for (;;) {
      while (this.read < this.messages.length) {
        const m = this.messages[this.read++]!;
        if (match(m)) return m as T;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`the connection closed; messages: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Until the job's status is `status`: the status messages of it on the way, that one included. */
  async statusesUntil(uid: string, status: JobView["status"]): Promise<Status[]> {
    const seen: Status[] = [];
    for (;;) {
      const m = await this.next<Status>((x) => x.type === "status" && x.job.id === uid);
      seen.push(m);
      if (m.job.status === status) return seen;
    }
  }

  /** Until a ping: also a point after which anything sent before it has arrived. */
  async ping(): Promise<void> {
    const pings = this.pings;
    while (this.pings === pings) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("the connection closed");
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

const open: WebSocket[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

interface ConnectOptions { key?: string | null; protocols?: string[]; path?: string; autoPong?: boolean }

function socket(o: ConnectOptions): WebSocket {
  const key = o.key === undefined ? api.key : o.key;
  const ws = new WebSocket(`${api.url.replace(/^http/, "ws")}${o.path ?? "/v1/ws"}`, o.protocols ?? [], {
    headers: key ? { authorization: `Bearer ${key}` } : {}, autoPong: o.autoPong ?? true,
  });
  open.push(ws);
  return ws;
}

async function connect(o: ConnectOptions = {}): Promise<Client> {
  const ws = socket(o);
  const client = new Client(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    ws.once("error", reject);
  });
  return client;
}

/** The HTTP answer to an upgrade the server refuses. */
async function refusal(o: ConnectOptions): Promise<{ status: number; headers: Record<string, unknown>; body: { detail: string; scope?: string } }> {
  const ws = socket(o);
  return new Promise((resolve, reject) => {
    ws.once("open", () => reject(new Error("the upgrade was accepted")));
    ws.once("error", reject);
    ws.once("unexpected-response", (req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(body) as { detail: string } });
      });
    });
  });
}

/** An ImageJob of the fixture's namespace, once the mirror has it. */
async function mirroredJob(name: string): Promise<string> {
  const uid = (await api.createJob(name)).metadata.uid!;
  await eventually(async () => (await api.fetch(`${api.url}/v1/jobs/${uid}`)).ok, "the mirror to record the job");
  return uid;
}

async function mirrored(uid: string, status: JobView["status"], key = api.key): Promise<void> {
  await eventually(async () => {
    const res = await fetch(`${api.url}/v1/jobs/${uid}`, { headers: { authorization: `Bearer ${key}` } });
    return res.ok && ((await res.json()) as JobView).status === status;
  }, `job ${uid} to be ${status}`);
}

async function ticket(key = api.key): Promise<string> {
  const res = await fetch(`${api.url}/v1/ws/tickets`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { ticket: string; expires_at: string };
  expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());
  return body.ticket;
}

it("follows one job from pending to succeeded, each state once, with rising event ids", async () => {
  const uid = await mirroredJob("ws-one");
  const client = await connect();
  client.send({ type: "subscribe", jobs: [uid] });
  const first = await client.next<Status>();
  expect(first).toMatchObject({ type: "status", job: { id: uid, status: "pending" } });
  expect(await client.next()).toEqual({ type: "subscribed", jobs: [uid] });

  await patchStatus(api, "ws-one", { phase: "Queued", attempts: 0, queuedAt: now() });
  await patchStatus(api, "ws-one", { phase: "Running", attempts: 1, startedAt: now() });
  await patchStatus(api, "ws-one", { phase: "Failed", reason: "InputNotFound", message: "gone", finishedAt: now() });
  const rest = await client.statusesUntil(uid, "failed");
  expect(rest.map((m) => m.job.status)).toEqual(["queued", "running", "failed"]);
  const ids = [first, ...rest].map((m) => BigInt(m.id));
  expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
  expect(new Set(ids).size).toBe(4);
  expect(rest[2]!.job.error).toEqual({ reason: "InputNotFound", message: "gone" });
});

it("relays a worker's progress on the job, without its namespace", async () => {
  const uid = await mirroredJob("ws-progress");
  const client = await connect();
  client.send({ type: "subscribe", jobs: [uid] });
  await client.next((m) => m.type === "subscribed");
  const publisher = new ProgressPublisher(redis, api.prefix, createLogger({ level: "silent" }), 0);
  publisher.report({ uid, namespace: "someone-else", attempt: 1, stage: "inference", step: { done: 1, total: 9 }, elapsedMs: 1 });
  publisher.report({ uid, namespace: api.namespace, attempt: 1, stage: "inference", step: { done: 2, total: 9 }, elapsedMs: 2 });
  expect(await client.next((m) => m.type === "progress")).toEqual({ type: "progress", job_id: uid, attempt: 1, stage: "inference", step: { done: 2, total: 9 }, elapsedMs: 2 });
});

it("follows every job of the tenant with `all`, and never another tenant's", async () => {
  const other = await api.newTenant("ws-other");
  const client = await connect();
  client.send({ type: "subscribe", all: true });
  expect(await client.next()).toEqual({ type: "subscribed", all: true });

  // Another tenant's job, mirrored before ours changes: the mirror tells of it first.
  const theirs = (await api.custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace: other.namespace, plural: IMAGEJOB_PLURAL,
    body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name: "theirs" }, spec: { model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" } } },
  }) as { metadata: { uid: string } }).metadata.uid;
  await mirrored(theirs, "pending", other.key);
  const a = await mirroredJob("ws-all-a");
  const b = await mirroredJob("ws-all-b");
  await patchStatus(api, "ws-all-a", { phase: "Queued", attempts: 0, queuedAt: now() });
  await client.statusesUntil(b, "pending");
  await client.statusesUntil(a, "queued");
  const about = client.messages.flatMap((m) => (m.type === "status" ? [m.job.id] : m.type === "progress" ? [m.job_id] : []));
  expect(about).not.toContain(theirs);
  expect(about).toEqual(expect.arrayContaining([a, b]));

  // By id, another tenant's job is as unknown as one that never was.
  const byId = await connect();
  const nobody = "00000000-0000-4000-8000-000000000000";
  byId.send({ type: "subscribe", jobs: [theirs, nobody] });
  expect(await byId.next()).toEqual({ type: "subscribed", jobs: [], not_found: [theirs, nobody] });
});

it("stops sending a job's changes once unsubscribed", async () => {
  const x = await mirroredJob("ws-unsub-x");
  const y = await mirroredJob("ws-unsub-y");
  const client = await connect();
  client.send({ type: "subscribe", jobs: [x, y] });
  expect(await client.next((m) => m.type === "subscribed")).toEqual({ type: "subscribed", jobs: [x, y] });
  client.send({ type: "unsubscribe", jobs: [x] });
  // Messages are taken in order: this answer means the unsubscribe was. Then x changes before y: y's change comes, x's never.
  client.send({ type: "subscribe", jobs: [y] });
  await client.next((m) => m.type === "subscribed");
  await patchStatus(api, "ws-unsub-x", { phase: "Queued", attempts: 0, queuedAt: now() });
  await mirrored(x, "queued");
  await patchStatus(api, "ws-unsub-y", { phase: "Queued", attempts: 0, queuedAt: now() });
  await client.statusesUntil(y, "queued");
  expect(client.messages.filter((m) => m.type === "status" && m.job.id === x).map((m) => (m as Status).job.status)).toEqual(["pending"]);
});

describe("resume after a dropped connection", () => {
  it("sends the change made while the client was away, then the live ones", async () => {
    const uid = await mirroredJob("ws-resume");
    const first = await connect();
    first.send({ type: "subscribe", jobs: [uid] });
    const initial = await first.next<Status>();
    await first.next((m) => m.type === "subscribed");
    await patchStatus(api, "ws-resume", { phase: "Queued", attempts: 0, queuedAt: now() });
    const before = [initial, ...(await first.statusesUntil(uid, "queued"))];
    const last = before.at(-1)!.id;
    first.ws.terminate();
    await first.closed;

    // Changed while nobody listened.
    await patchStatus(api, "ws-resume", { phase: "Running", attempts: 1, startedAt: now() });
    await mirrored(uid, "running");

    const again = await connect();
    again.send({ type: "subscribe", jobs: [uid], since: last });
    await patchStatus(api, "ws-resume", { phase: "Succeeded", finishedAt: now() });
    const after = await again.statusesUntil(uid, "succeeded");
    const seen = [...before, ...after].map((m) => m.job.status);
    expect(seen.filter((s, i) => s !== seen[i - 1])).toEqual(["pending", "queued", "running", "succeeded"]);
    expect(BigInt(after[0]!.id)).toBeGreaterThan(BigInt(last));
  });

  it("with `all`, sends from the last event id every job that changed, and nothing older", async () => {
    const a = await mirroredJob("ws-resume-a");
    const first = await connect();
    first.send({ type: "subscribe", all: true });
    await first.next((m) => m.type === "subscribed");
    await patchStatus(api, "ws-resume-a", { phase: "Queued", attempts: 0, queuedAt: now() });
    const last = (await first.statusesUntil(a, "queued")).at(-1)!.id;
    first.ws.terminate();
    await first.closed;

    await patchStatus(api, "ws-resume-a", { phase: "Running", attempts: 1, startedAt: now() });
    const b = await mirroredJob("ws-resume-b");
    await mirrored(a, "running");

    const again = await connect();
    again.send({ type: "subscribe", all: true, since: last });
    const caughtUp: Status[] = [];
    for (let m = await again.next(); m.type !== "subscribed"; m = await again.next()) {
      expect(m.type).toBe("status");
      caughtUp.push(m as Status);
    }
    // The jobs changed after `last`, oldest change first; none of the states the client had. (An
    // earlier test's finished job deleted meanwhile by the mirror is such a change too.)
    expect(caughtUp.filter((m) => [a, b].includes(m.job.id)).map((m) => [m.job.id, m.job.status])).toEqual([[a, "running"], [b, "pending"]]);
    expect(caughtUp.every((m) => BigInt(m.id) > BigInt(last))).toBe(true);
  });
});

describe("authentication at the upgrade", () => {
  it("takes a ticket as a subprotocol once, echoing pixelmill.v1", async () => {
    const t = await ticket();
    const client = await connect({ key: null, protocols: ["pixelmill.v1", `ticket.${t}`] });
    expect(client.ws.protocol).toBe("pixelmill.v1");
    client.send({ type: "subscribe", all: true });
    expect(await client.next()).toEqual({ type: "subscribed", all: true });

    const again = await refusal({ key: null, protocols: ["pixelmill.v1", `ticket.${t}`] });
    expect(again.status).toBe(401);
    expect(again.body.detail).toMatch(/ticket is not valid/);
  });

  it("refuses an expired ticket and one whose key was revoked after it was issued", async () => {
    // Issued as the route does, with a TTL of 1 ms, and gone from Redis before it is used.
    const { id, key } = await api.newKey(["jobs:read"]);
    const short = await new WsTickets(redis, api.prefix, 1).issue(id);
    const stored = `${api.prefix}:ws-ticket:${createHash("sha256").update(short.ticket).digest("hex")}`;
    await eventually(async () => (await redis.exists(stored)) === 0, "the ticket to expire");
    expect((await refusal({ key: null, protocols: ["pixelmill.v1", `ticket.${short.ticket}`] })).status).toBe(401);

    const t = await ticket(key);
    await api.apiKeys.revoke(id, undefined, new Date());
    const revoked = await refusal({ key: null, protocols: ["pixelmill.v1", `ticket.${t}`] });
    expect(revoked.status).toBe(401);
    expect(revoked.body.detail).toMatch(/revoked/);
  });

  it("refuses a key in the URL, a missing key, a key without jobs:read, and other paths", async () => {
    const inUrl = await refusal({ key: null, path: `/v1/ws?key=${api.key}` });
    expect(inUrl.status).toBe(400);
    expect(inUrl.body.detail).toMatch(/never send a key in a URL/);

    const none = await refusal({ key: null });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe("Bearer");

    const writeOnly = await api.newKey(["jobs:write"]);
    const forbidden = await refusal({ key: writeOnly.key });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.scope).toBe("jobs:read");

    expect((await refusal({ path: "/v1/jobs" })).status).toBe(404);
    expect((await refusal({ protocols: ["something.else"] })).status).toBe(400);
  });
});

describe("the connection", () => {
  it("answers a bad message with an error and keeps going, until too many", async () => {
    const client = await connect();
    client.send("not json");
    expect(await client.next()).toMatchObject({ type: "error", detail: "the message is not JSON" });
    client.send({ type: "subscribe", jobs: ["x"], all: true });
    expect(await client.next()).toMatchObject({ type: "error", detail: expect.stringMatching(/either `jobs`/) as string });
    client.send({ type: "subscribe", jobs: Array.from({ length: 1001 }, (_, i) => `job-${i}`) });
    expect(await client.next()).toMatchObject({ type: "error", detail: expect.stringMatching(/jobs: Too big/i) as string });
    client.send({ type: "subscribe", all: true });
    expect(await client.next()).toEqual({ type: "subscribed", all: true });

    for (let i = 3; i < MAX_BAD_MESSAGES; i++) client.send({ type: "shout" });
    expect(await client.closed).toEqual({ code: 1008, reason: "too many messages refused" });
  });

  it("drops a client that stops answering pings, keeps one that answers, and counts them", async () => {
    await eventually(() => api.sockets.size === 0, "the earlier tests' connections to close");
    const live = await connect();
    const dead = await connect({ autoPong: false });
    const closed = await dead.closed;
    expect(closed.code).toBe(1006); // terminated by the server, no close frame
    // Pinged since, and open.
    await live.ping();
    await live.ping();
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    await eventually(() => api.sockets.size === 1, "the server to forget the dead connection");
    expect(await (await fetch(`${api.url}/metrics`)).text()).toMatch(/^pixelmill_websocket_connections 1$/m);
  });
});
