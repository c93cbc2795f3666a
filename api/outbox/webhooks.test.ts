import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Api } from "../assemble.js";
import type { WebhookOptions } from "./assemble-webhooks.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { patchStatus, now, runToSuccess } from "../../test/support/job-status.js";
import { startReplica } from "../../test/support/replica-api.js";
import { startWebhookReceiver, verifyStandardWebhook, type ReceivedWebhook, type WebhookReceiver } from "../../test/support/webhook-receiver.js";
import { testEnv } from "../../test/support/env.js";
import type { WebhookDeliveryView } from "../http/webhook-schemas.js";
import { processRegistry } from "../../common/metrics.js";
import { PrismaWebhookOutbox } from "../data/webhook-outbox-repository.js";

// Two API replicas over one database, both mirroring and both sending; a receiver on 127.0.0.1
// (hence the `any` address policy and http) that verifies with its own Standard Webhooks code.
const webhooks: WebhookOptions = {
  secretsKey: randomBytes(32).toString("base64"), addressPolicy: "any", allowHttp: true, pollIntervalMs: 200, retryDelaysMs: [0, 300, 300], timeoutMs: 3000,
};
let api: ApiFixture;
let replica: Api;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  api = await startApi("webhooks", { webhooks });
  replica = await startReplica(api, { webhooks });
});
afterAll(async () => {
  await replica?.stop();
  await api?.stop();
  await receiver?.close();
});

const admin = (path: string, init: RequestInit = {}) => api.fetch(`${api.url}${path}`, { ...init, headers: { authorization: `Bearer ${api.adminKey}`, "content-type": "application/json" } });
const secrets = async () => ((await (await admin("/v1/webhook-secrets")).json()) as { items: { secret: string; retires_at: string | null }[] }).items;
const at = (path: string) => receiver.received.filter((r) => r.path === path);
const deliveries = async (jobId: string, key = api.key) =>
  ((await (await api.fetch(`${api.url}/v1/jobs/${jobId}/webhook-deliveries`, { headers: { authorization: `Bearer ${key}` } })).json()) as { items: WebhookDeliveryView[] }).items;
/** Waits until none of the job's messages is pending or being sent. */
const settled = (jobId: string, count: number) => eventually(async () => {
  const items = await deliveries(jobId);
  return items.length === count && items.every((d) => d.state !== "pending" && d.state !== "sending") && items;
}, `the job's ${count} webhook messages to settle`);

async function jobWithWebhook(name: string, path: string, events?: string[]): Promise<string> {
  const job = await api.createJob(name, { webhook: { url: receiver.url(path), ...(events ? { events: events as never } : {}) } });
  return job.metadata.uid!;
}

describe("webhooks with two API replicas", () => {
  it("sends queued, running and completed once each, signed with the tenant's secret, for a job submitted through the API", async () => {
    const secret = (await secrets())[0]!.secret;
    const res = await api.fetch(`${api.url}/v1/jobs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "resize-x2", input: { uri: `s3://${testEnv().s3.bucket}/inputs/cat.png` }, webhook: receiver.url("/life") }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const name = (await api.jobs.get(api.namespace, id))!.name;
    await runToSuccess(api, name, { uri: "s3://b/out.png", contentType: "image/png", width: 8, height: 6, bytes: 99 });
    const items = await settled(id, 3);
    const got = at("/life");
    expect(got.map((r) => r.payload.type).sort()).toEqual(["job.completed", "job.queued", "job.running"]);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(3);
    for (const r of got) expect(verifyStandardWebhook(secret, r.headers, r.body)).toBe(true);
    const completed = got.find((r) => r.payload.type === "job.completed")!;
    expect(completed.payload.data).toMatchObject({ id, status: "succeeded", model: "resize-x2", output: { content_type: "image/png", width: 8, height: 6, bytes: 99 }, batch: null });
    expect(items.map((d) => [d.event, d.state, d.attempts.length, d.attempts[0]!.status_code])).toEqual([
      ["queued", "delivered", 1, 200], ["running", "delivered", 1, 200], ["completed", "delivered", 1, 200],
    ]);
    expect(items[0]!.attempts[0]).toMatchObject({ outcome: "delivered", response_excerpt: "answered 200", error: null });
    expect(items[0]!.attempts[0]!.latency_ms).toEqual(expect.any(Number));
    // Each message once, though both replicas mirrored each state and both send.
    expect(got).toHaveLength(3);
    expect((await processRegistry().getSingleMetricAsString("pixelmill_webhook_attempts_total"))).toMatch(/pixelmill_webhook_attempts_total\{outcome="delivered"\} [1-9]/);
  });

  it("sends a job's events even when the mirror sees only its end (the states between were never written)", async () => {
    const id = await jobWithWebhook("straight-to-the-end", "/end");
    await patchStatus(api, "straight-to-the-end", { phase: "Failed", attempts: 1, queuedAt: now(), startedAt: now(), finishedAt: now(), reason: "ModelError", message: "boom" });
    await settled(id, 3);
    const completed = at("/end").find((r) => r.payload.type === "job.completed")!;
    expect(completed.payload.data).toMatchObject({ status: "failed", error: { reason: "ModelError", message: "boom" }, output: null });
    expect(at("/end")).toHaveLength(3);
  });

  it("sends completed (canceled) for a job canceled through the API", async () => {
    const id = await jobWithWebhook("canceled", "/canceled", ["completed"]);
    await eventually(async () => (await api.fetch(`${api.url}/v1/jobs/${id}`)).ok, "the job to be mirrored");
    expect((await api.fetch(`${api.url}/v1/jobs/${id}`, { method: "DELETE" })).status).toBe(202);
    await settled(id, 1);
    expect(at("/canceled").map((r) => [r.payload.type, r.payload.data.status])).toEqual([["job.completed", "canceled"]]);
  });

  it("retries a failed attempt on the schedule and records every attempt", async () => {
    receiver.answer("/flaky", 500, 503);
    const id = await jobWithWebhook("flaky", "/flaky", ["completed"]);
    await patchStatus(api, "flaky", { phase: "Succeeded", finishedAt: now(), output: { uri: "s3://b/o.png" } });
    const [d] = await settled(id, 1);
    expect(d!.state).toBe("delivered");
    expect(d!.attempts.map((a) => [a.outcome, a.status_code, a.response_excerpt])).toEqual([
      ["failed", 500, "answered 500"], ["failed", 503, "answered 503"], ["delivered", 200, "answered 200"],
    ]);
    expect(new Set(at("/flaky").map((r: ReceivedWebhook) => r.headers["webhook-id"]))).toEqual(new Set([`msg_${d!.id}`]));
  });

  it("gives a message up after its last scheduled attempt", async () => {
    receiver.answer("/down", 500, 500, 500);
    const id = await jobWithWebhook("down", "/down", ["completed"]);
    await patchStatus(api, "down", { phase: "Succeeded", finishedAt: now(), output: {} });
    const [d] = await settled(id, 1);
    expect([d!.state, d!.attempts.length]).toEqual(["dead", 3]);
  });

  it("disables an endpoint that answers 410 Gone until it is enabled again, then redelivers", async () => {
    receiver.answer("/gone", 410);
    const id = await jobWithWebhook("gone", "/gone", ["queued", "completed"]);
    await patchStatus(api, "gone", { phase: "Queued", attempts: 0, queuedAt: now() });
    await settled(id, 1);
    await patchStatus(api, "gone", { phase: "Succeeded", finishedAt: now(), output: {} });
    const [queued, completed] = await settled(id, 2);
    expect([queued!.state, queued!.attempts[0]!.status_code, completed!.state, completed!.attempts[0]!.outcome]).toEqual(["disabled", 410, "disabled", "disabled"]);
    expect(at("/gone")).toHaveLength(1);

    const enable = await admin("/v1/webhook-endpoints/enable", { method: "POST", body: JSON.stringify({ url: receiver.url("/gone") }) });
    expect(enable.status).toBe(204);
    expect((await admin("/v1/webhook-endpoints/enable", { method: "POST", body: JSON.stringify({ url: receiver.url("/gone") }) })).status).toBe(404);
    const redeliver = await api.fetch(`${api.url}/v1/webhook-deliveries/${completed!.id}/redeliver`, { method: "POST" });
    expect(redeliver.status).toBe(202);
    const after = await settled(id, 2);
    expect(after[1]!.state).toBe("delivered");
    expect(after[1]!.attempts.map((a) => a.outcome)).toEqual(["disabled", "delivered"]);
    expect(at("/gone").map((r) => r.payload.type)).toEqual(["job.queued", "job.completed"]);
  });

  it("signs with the old and the new secret after a rotation, each verifiable alone", async () => {
    const old = (await secrets())[0]!.secret;
    const rotated = await admin("/v1/webhook-secrets/rotate", { method: "POST" });
    expect(rotated.status).toBe(201);
    const items = ((await rotated.json()) as { items: { secret: string; retires_at: string | null }[] }).items;
    expect(items).toHaveLength(2);
    expect(items[0]!.retires_at).toBeNull();
    expect(items[1]!.secret).toBe(old);
    expect(Date.parse(items[1]!.retires_at!)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    const id = await jobWithWebhook("rotated", "/rotated", ["completed"]);
    await patchStatus(api, "rotated", { phase: "Succeeded", finishedAt: now(), output: {} });
    await settled(id, 1);
    const [r] = at("/rotated");
    expect(r!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(verifyStandardWebhook(items[0]!.secret, r!.headers, r!.body)).toBe(true);
    expect(verifyStandardWebhook(old, r!.headers, r!.body)).toBe(true);
  });

  it("lists the tenant's deliveries newest first by cursor, and shows another tenant none of them", async () => {
    const first = (await (await api.fetch(`${api.url}/v1/webhook-deliveries?limit=2`)).json()) as { items: WebhookDeliveryView[]; next_cursor: string };
    expect(first.items).toHaveLength(2);
    const second = (await (await api.fetch(`${api.url}/v1/webhook-deliveries?limit=2&cursor=${first.next_cursor}`)).json()) as { items: WebhookDeliveryView[] };
    expect(second.items.map((d) => d.id)).not.toContain(first.items[0]!.id);
    expect(second.items).toHaveLength(2);

    const other = await api.newTenant("webhooks-other");
    const jobId = first.items[0]!.job_id;
    const res = await api.fetch(`${api.url}/v1/jobs/${jobId}/webhook-deliveries`, { headers: { authorization: `Bearer ${other.key}` } });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const theirs = (await (await api.fetch(`${api.url}/v1/webhook-deliveries`, { headers: { authorization: `Bearer ${other.key}` } })).json()) as { items: unknown[] };
    expect(theirs.items).toEqual([]);
    const redeliver = await api.fetch(`${api.url}/v1/webhook-deliveries/${first.items[0]!.id}/redeliver`, { method: "POST", headers: { authorization: `Bearer ${other.key}` } });
    expect(redeliver.status).toBe(404);
    // The secrets are the tenant admins': a job key cannot read them.
    expect((await api.fetch(`${api.url}/v1/webhook-secrets`)).status).toBe(403);
  });

  it("forgets finished messages and their attempts after the history window, and keeps the ones still open", async () => {
    const outbox = new PrismaWebhookOutbox(api.prisma);
    const finished = (await api.prisma.webhookOutbox.findMany({ where: { state: { notIn: ["pending", "sending"] } }, select: { id: true } })).map((m) => m.id);
    expect(finished.length).toBeGreaterThan(0);
    expect(await api.prisma.webhookAttempt.count({ where: { outboxId: { in: finished } } })).toBeGreaterThan(0);
    expect(await outbox.prune(new Date(Date.now() - 3_600_000), 1000)).toBe(0); // none finished an hour ago
    const cutoff = new Date(Date.now() + 1000);
    expect(await outbox.prune(cutoff, 1000)).toBeGreaterThanOrEqual(finished.length);
    expect(await api.prisma.webhookOutbox.count({ where: { state: { notIn: ["pending", "sending"] }, finishedAt: { lt: cutoff } } })).toBe(0);
    expect(await api.prisma.webhookAttempt.count({ where: { outboxId: { in: finished } } })).toBe(0);
  });
});
