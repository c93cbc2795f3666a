import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { withServer } from "../../test/support/serve.js";
import { CoreV1Api } from "@kubernetes/client-node";
import sharp from "sharp";
import { generateApiKey } from "../../common/auth/api-key.js";
import { createLogger } from "../../common/logger.js";
import { createApp } from "../app.js";
import { PrismaApiKeyRepository } from "../data/api-key-repository.js";
import { PrismaJobRepository } from "../data/job-repository.js";
import { PrismaIdempotencyRepository } from "../data/idempotency-repository.js";
import { createPrisma } from "../data/prisma.js";
import { PrismaTenantRepository } from "../data/tenant-repository.js";
import { JobEvents } from "../domain/job-events.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";

let api: ApiFixture;
let jobId: string;
let png: Buffer;
beforeAll(async () => {
  api = await startApi("api-auth");
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#2040c0" } }).png().toBuffer();
  jobId = (await api.createJob("first-tenant-job")).metadata.uid!;
  await eventually(async () => (await api.fetch(`${api.url}/v1/jobs/${jobId}`)).ok, "the mirror to record the job");
});
afterAll(async () => api?.stop());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const asKey = (key: string | undefined, path: string, init: RequestInit = {}) =>
  fetch(`${api.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...(key === undefined ? {} : bearer(key)) } });
const jsonPost = (key: string, path: string, body: unknown) => asKey(key, path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

function submitForm(): FormData {
  const form = new FormData();
  form.append("model", "resize-x2");
  form.append("image", new Blob([png], { type: "image/png" }), "cat.png");
  return form;
}

const routes = (): Array<[string, string]> => [
  ["POST", "/v1/jobs"], ["GET", "/v1/jobs"], ["GET", `/v1/jobs/${jobId}`], ["DELETE", `/v1/jobs/${jobId}`], ["GET", `/v1/jobs/${jobId}/events`],
  ["GET", `/v1/jobs/${jobId}/items`], ["GET", `/v1/jobs/${jobId}/manifest`],
  ["GET", "/v1/models"], ["POST", "/v1/models"], ["GET", "/v1/keys"], ["POST", "/v1/keys"], ["GET", "/v1/tenants"], ["POST", "/v1/tenants"],
  ["DELETE", "/v1/tenants/platform"], ["PATCH", "/v1/tenants/platform"], ["POST", "/v1/uploads"], ["POST", "/v1/ws/tickets"],
  ["GET", `/v1/jobs/${jobId}/webhook-deliveries`], ["GET", "/v1/webhook-deliveries"], ["POST", `/v1/webhook-deliveries/${jobId}/redeliver`],
  ["GET", "/v1/webhook-secrets"], ["POST", "/v1/webhook-secrets/rotate"], ["POST", "/v1/webhook-endpoints/enable"],
];

async function expect401(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toBe("Bearer");
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/unauthenticated", status: 401 });
}

describe("API keys", () => {
  it("are needed on every job, model, key and tenant route: 401 without one, or with one that is not a Bearer key", async () => {
    for (const [method, path] of routes()) {
      await expect401(await asKey(undefined, path, { method }));
      await expect401(await fetch(`${api.url}${path}`, { method, headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } }));
    }
    // Health probes take none.
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });

  it("refuse a key with a bad checksum without reading the database", async () => {
    const findByHash = vi.spyOn(api.apiKeys, "findByHash");
    try {
      const typo = api.key.slice(0, 20) + (api.key[20] === "x" ? "y" : "x") + api.key.slice(21);
      await expect401(await asKey(typo, "/v1/jobs"));
      expect(findByHash).not.toHaveBeenCalled();
      // A well-formed key that was never issued is looked up, and refused.
      await expect401(await asKey(generateApiKey("test"), "/v1/jobs"));
      expect(findByHash).toHaveBeenCalledTimes(1);
    } finally {
      findByHash.mockRestore();
    }
  });

  it("that cannot be checked (Postgres down) are answered 503, neither refused nor a 500", async () => {
    const findByHash = vi.spyOn(api.apiKeys, "findByHash").mockRejectedValueOnce(new Error("Connection terminated unexpectedly"));
    try {
      const res = await api.fetch(`${api.url}/v1/jobs`);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/unavailable", dependency: "postgres" });
    } finally {
      findByHash.mockRestore();
    }
  });

  it("refuse a revoked key at once, and an expired one", async () => {
    const { id, key } = await api.newKey(["jobs:read"]);
    expect((await asKey(key, "/v1/jobs")).status).toBe(200);
    const revoked = await asKey(api.adminKey, `/v1/keys/${id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id, revoked_at: expect.any(String) as string });
    await expect401(await asKey(key, "/v1/jobs"));
    const expired = await api.newKey(["jobs:read"], { expiresAt: new Date(Date.now() - 1000) });
    await expect401(await asKey(expired.key, "/v1/jobs"));
  });

  it("without the route's scope get 403 naming it; admin implies every scope", async () => {
    const reader = await api.newKey(["jobs:read", "models:read"]);
    const denied = await asKey(reader.key, "/v1/jobs", { method: "POST", body: submitForm() });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ type: "https://pixelmill.io/problems/missing-scope", status: 403, scope: "jobs:write", detail: expect.stringContaining("jobs:write") as string });
    const modelsOnly = await api.newKey(["models:read"]);
    expect(await (await asKey(modelsOnly.key, `/v1/jobs/${jobId}`)).json()).toMatchObject({ status: 403, scope: "jobs:read" });
    for (const path of [`/v1/jobs/${jobId}/items`, `/v1/jobs/${jobId}/manifest`]) {
      expect(await (await asKey(modelsOnly.key, path)).json(), path).toMatchObject({ status: 403, scope: "jobs:read" });
    }
    expect(await (await asKey(reader.key, "/v1/tenants")).json()).toMatchObject({ status: 403, scope: "admin" });
    expect((await asKey(api.adminKey, `/v1/jobs/${jobId}`)).status).toBe(200);
    const key = await api.prisma.apiKey.findFirstOrThrow({ where: { id: reader.id } });
    expect(key.lastUsedAt).toBeInstanceOf(Date);
  });

  it("survive an API restart: a new app over the same database accepts them", async () => {
    const prisma = createPrisma(api.databaseUrl);
    const app = createApp({
      log: createLogger({ level: "silent" }), publicUrl: "http://api.test", maxUploadBytes: 1024, outputUrlTtlSeconds: 60,
      jobs: new PrismaJobRepository(prisma), idempotencyKeys: new PrismaIdempotencyRepository(prisma), apiKeys: new PrismaApiKeyRepository(prisma), tenants: new PrismaTenantRepository(prisma),
      cluster: {
        listModels: () => Promise.resolve([]), getModel: () => Promise.resolve(undefined), createJob: () => Promise.reject(new Error("no")),
        deleteJob: () => Promise.resolve(undefined), ensureNamespace: () => Promise.resolve(), grantedInputBuckets: () => Promise.resolve([]),
        createModel: () => Promise.reject(new Error("no")),
      },
      store: api.store, events: new JobEvents(),
    });
    try {
      await withServer(app, async (url) => {
        expect((await fetch(`${url}/v1/jobs/${jobId}`, { headers: bearer(api.key) })).status).toBe(200);
        expect((await fetch(`${url}/v1/models`, { headers: bearer(api.key) })).status).toBe(200);
        expect((await fetch(`${url}/v1/tenants`, { headers: bearer(api.adminKey) })).status).toBe(200);
      });
    } finally {
      await prisma.$disconnect();
    }
  });
});

describe("tenants", () => {
  it("see only their own jobs: another tenant's job is 404 to read, follow and cancel", async () => {
    const other = await api.newTenant("auth-other");
    const ns = await api.kc.makeApiClient(CoreV1Api).readNamespace({ name: other.namespace });
    expect(ns.metadata?.labels).toMatchObject({ "pixelmill.io/tenant": other.name });
    const ownRoutes = [["GET", `/v1/jobs/${jobId}`], ["GET", `/v1/jobs/${jobId}/events`], ["GET", `/v1/jobs/${jobId}/items`], ["GET", `/v1/jobs/${jobId}/manifest`], ["DELETE", `/v1/jobs/${jobId}`]] as const;
    for (const [method, path] of ownRoutes) {
      const res = await asKey(other.key, path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect(await (await asKey(other.key, "/v1/jobs")).json()).toMatchObject({ items: [] });
    // Its own job: in its namespace, with the platform's model, its upload under its own prefix; the first tenant cannot see it.
    const submitted = await asKey(other.key, "/v1/jobs", { method: "POST", body: submitForm() });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const mine = await eventually(async () => {
      const res = await asKey(other.key, `/v1/jobs/${id}`);
      return res.ok ? ((await res.json()) as { id: string }) : undefined;
    }, "the other tenant's job");
    expect(mine.id).toBe(id);
    expect(await api.jobs.get(other.namespace, id)).toMatchObject({ namespace: other.namespace, inputUri: expect.stringMatching(new RegExp(`^upload:uploads/${other.namespace}/`)) as string });
    expect((await api.fetch(`${api.url}/v1/jobs/${id}`)).status).toBe(404);
    expect((await api.fetch(`${api.url}/v1/jobs/${id}`, { method: "DELETE" })).status).toBe(404);
    // And the first tenant's job is still there, not canceled by the other's DELETE.
    expect(await (await api.fetch(`${api.url}/v1/jobs/${jobId}`)).json()).toMatchObject({ status: expect.not.stringMatching(/canceled/) as string });
  });

  it("keep Idempotency-Keys apart: the same key from another tenant makes that tenant's own job", async () => {
    const other = await api.newTenant("auth-idem");
    const post = (key: string) => asKey(key, "/v1/jobs", { method: "POST", body: submitForm(), headers: { "idempotency-key": "shared-key-1" } });
    const mine = await post(api.key);
    const theirs = await post(other.key);
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    const [a, b] = [(await mine.json()) as { id: string }, (await theirs.json()) as { id: string }];
    expect(a.id).not.toBe(b.id);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    const again = await post(api.key);
    expect([again.status, again.headers.get("idempotent-replayed"), ((await again.json()) as { id: string }).id]).toEqual([202, "true", a.id]);
  });

  it("are made and listed with the bootstrap admin key; keys:admin manages only its own tenant's keys, never granting more than it holds", async () => {
    const tenants = await (await asKey(api.adminKey, "/v1/tenants")).json() as { items: Array<{ name: string; namespace: string }> };
    expect(tenants.items).toContainEqual(expect.objectContaining({ name: "platform", namespace: api.namespace }));
    expect((await jsonPost(api.adminKey, "/v1/tenants", { name: "platform" })).status).toBe(409);
    // Another tenant's namespace is neither adopted nor relabelled.
    expect(await (await jsonPost(api.adminKey, "/v1/tenants", { name: "squatter", namespace: api.namespace })).json()).toMatchObject({ status: 409, type: "https://pixelmill.io/problems/tenant-exists" });
    expect((await api.kc.makeApiClient(CoreV1Api).readNamespace({ name: api.namespace })).metadata?.labels?.["pixelmill.io/tenant"]).toBeUndefined();
    expect((await jsonPost(api.adminKey, "/v1/tenants", { name: "Not A Label" })).status).toBe(400);

    const keysAdmin = await api.newKey(["keys:admin", "jobs:read"]);
    const made = await jsonPost(keysAdmin.key, "/v1/keys", { name: "ci", scopes: ["jobs:read"], expires_at: new Date(Date.now() + 3600_000).toISOString() });
    expect(made.status).toBe(201);
    const created = (await made.json()) as { id: string; key: string; prefix: string; tenant: string };
    expect(created.key).toMatch(/^pm_live_/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect((await asKey(created.key, "/v1/jobs")).status).toBe(200);
    expect(await (await jsonPost(keysAdmin.key, "/v1/keys", { name: "x", scopes: ["admin"] })).json()).toMatchObject({ status: 403, scope: "admin" });
    expect(await (await jsonPost(keysAdmin.key, "/v1/keys", { name: "x", scopes: ["jobs:write"] })).json()).toMatchObject({ status: 403, scope: "jobs:write" });
    const listed = await (await asKey(keysAdmin.key, "/v1/keys")).text();
    expect(listed).toContain(created.prefix);
    expect(listed).not.toContain(created.key);
    expect(listed).not.toMatch(/[0-9a-f]{64}/);
  });
});
