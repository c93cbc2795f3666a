import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobRecord } from "../domain/job-record.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import type { CreatedKey, UsageView } from "./schemas.js";

let api: ApiFixture;
let other: { name: string; namespace: string; key: string };

beforeAll(async () => {
  api = await startApi("usage");
  other = await api.newTenant("usage-other");
}, 60_000);
afterAll(async () => api?.stop());

/** A finished job's row, as the mirror stores it. */
async function finished(namespace: string, finishedAt: string, usage: { runSeconds: number; gpus: number } | null, phase: JobRecord["phase"] = "Succeeded"): Promise<void> {
  const at = new Date(finishedAt);
  const gpuSeconds = usage && usage.runSeconds * usage.gpus;
  await api.jobs.upsert({
    uid: randomUUID(), namespace, name: `job-${randomUUID().slice(0, 8)}`, model: "resize-x2", inputUri: "https://example.com/x.png", params: null,
    phase, attempts: 1, createdAt: at, queuedAt: at, startedAt: at, finishedAt: at,
    output: usage && { uri: "s3://b/o.png", usage: { ...usage, gpuSeconds: gpuSeconds! } }, error: null,
    runSeconds: usage?.runSeconds ?? null, gpuSeconds, resourceVersion: 1n, deletedAt: null,
  });
}

const usage = async (query: string, key: string = api.key) => {
  const res = await fetch(`${api.url}/v1/usage${query}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as UsageView & { errors?: { path: string[] }[]; scope?: string } };
};

describe("GET /v1/usage", () => {
  beforeAll(async () => {
    await finished(api.namespace, "2026-03-01T00:00:01Z", { runSeconds: 1.5, gpus: 2 });
    await finished(api.namespace, "2026-03-01T23:59:59.999Z", { runSeconds: 0.25, gpus: 2 });
    await finished(api.namespace, "2026-03-02T12:00:00Z", { runSeconds: 4, gpus: 0 });
    await finished(api.namespace, "2026-03-02T13:00:00Z", null); // from a worker that reported no usage
    await finished(api.namespace, "2026-03-02T14:00:00Z", null, "Failed"); // not counted
    await finished(api.namespace, "2026-04-01T00:00:00Z", { runSeconds: 9, gpus: 1 }); // after `to`
    await finished(other.namespace, "2026-03-02T08:00:00Z", { runSeconds: 2, gpus: 4 });
  });

  it("sums the caller's tenant's succeeded jobs per UTC day", async () => {
    const res = await usage("?from=2026-03-01&to=2026-03-31");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      from: "2026-03-01", to: "2026-03-31",
      items: [
        { tenant: "platform", day: "2026-03-01", jobs_succeeded: 2, run_seconds: 1.75, gpu_seconds: 3.5 },
        { tenant: "platform", day: "2026-03-02", jobs_succeeded: 2, run_seconds: 4, gpu_seconds: 0 },
      ],
    });
    const oneDay = await usage("?from=2026-03-02&to=2026-03-02");
    expect(oneDay.body.items.map((i) => i.day)).toEqual(["2026-03-02"]);
  });

  it("shows another tenant only its own", async () => {
    const res = await usage("?from=2026-03-01&to=2026-03-31", other.key);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([{ tenant: other.name, day: "2026-03-02", jobs_succeeded: 1, run_seconds: 2, gpu_seconds: 8 }]);
    const refused = await usage("?from=2026-03-01&to=2026-03-31&tenant=all", other.key);
    expect(refused.status).toBe(403);
    expect(refused.body.scope).toBe("admin");
  });

  it("shows every tenant to admin with tenant=all", async () => {
    const res = await usage("?from=2026-03-01&to=2026-03-31&tenant=all", api.adminKey);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      { tenant: "platform", day: "2026-03-01", jobs_succeeded: 2, run_seconds: 1.75, gpu_seconds: 3.5 },
      { tenant: "platform", day: "2026-03-02", jobs_succeeded: 2, run_seconds: 4, gpu_seconds: 0 },
      { tenant: other.name, day: "2026-03-02", jobs_succeeded: 1, run_seconds: 2, gpu_seconds: 8 },
    ]);
    // Without tenant=all, admin sees its own tenant's.
    expect((await usage("?from=2026-03-01&to=2026-03-31", api.adminKey)).body.items.map((i) => i.tenant)).toEqual(["platform", "platform"]);
  });

  it("defaults to the last 30 days up to today", async () => {
    const res = await usage("");
    expect(res.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(res.body.to).toBe(today);
    expect((Date.parse(res.body.to) - Date.parse(res.body.from)) / 86_400_000).toBe(29);
  });

  it("answers 400 problem+json for bad dates", async () => {
    for (const query of ["?from=2026-03-02&to=2026-03-01", "?from=2025-01-01&to=2026-01-02", "?from=2026-02-30&to=2026-03-01", "?from=yesterday", "?tenant=everyone"]) {
      const res = await usage(query);
      expect(res.status, query).toBe(400);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body.errors!.length).toBeGreaterThan(0);
    }
    // 366 days, both ends included, is the most.
    expect((await usage("?from=2024-01-01&to=2024-12-31")).status).toBe(200);
  });

  it("needs a key with jobs:read", async () => {
    expect((await usage("", "pm_test_nope")).status).toBe(401);
    expect((await usage("", (await api.newKey(["models:read"])).key)).status).toBe(403);
  });
});

describe("POST /v1/keys/:id/rotate", () => {
  const rotate = (id: string, key: string) => fetch(`${api.url}/v1/keys/${id}/rotate`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  const jobsList = (key: string) => fetch(`${api.url}/v1/jobs`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

  it("gives a working new key with the same tenant, name, scopes and expiry; the old one gets 401", async () => {
    const expiresAt = new Date(Date.now() + 3600_000);
    const old = await api.newKey(["jobs:read", "models:read"], { expiresAt });
    const keysAdmin = await api.newKey(["keys:admin", "jobs:read", "models:read"]);
    expect(await jobsList(old.key)).toBe(200);
    const res = await rotate(old.id, keysAdmin.key);
    expect(res.status).toBe(201);
    const created = (await res.json()) as CreatedKey;
    expect(created).toMatchObject({ name: "test jobs:read models:read", tenant: "platform", scopes: ["jobs:read", "models:read"], expires_at: expiresAt.toISOString(), revoked_at: null });
    expect(created.id).not.toBe(old.id);
    expect(created.key).not.toBe(old.key);
    expect(await jobsList(created.key)).toBe(200);
    expect(await jobsList(old.key)).toBe(401);
    const listed = (await api.apiKeys.list()).find((k) => k.id === old.id);
    expect(listed?.revokedAt).toBeInstanceOf(Date);
    // Once only: the old key is revoked now.
    const again = await rotate(old.id, keysAdmin.key);
    expect(again.status).toBe(409);
  });

  it("rotates another tenant's key for admin only, and no key its rotator could not create", async () => {
    const theirs = (await api.apiKeys.list()).find((k) => k.tenant.name === other.name && !k.revokedAt)!;
    const keysAdmin = await api.newKey(["keys:admin", "jobs:read", "jobs:write", "models:read"]);
    expect((await rotate(theirs.id, keysAdmin.key)).status).toBe(404);
    const platformAdmin = await api.newKey(["admin"]);
    expect((await rotate(platformAdmin.id, keysAdmin.key)).status).toBe(403);
    const byAdmin = await rotate(theirs.id, api.adminKey);
    expect(byAdmin.status).toBe(201);
    const created = (await byAdmin.json()) as CreatedKey;
    expect(created.tenant).toBe(other.name);
    expect(await jobsList(created.key)).toBe(200);
    expect(await jobsList(other.key)).toBe(401);
    expect((await rotate("not-a-key", api.adminKey)).status).toBe(404);
  });
});
