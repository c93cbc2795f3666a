import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import type { TenantView } from "./schemas.js";

// Disabling a tenant and setting its limits (DELETE and PATCH /v1/tenants/:name), on the real parts.
const RATE = 20;
let api: ApiFixture;

beforeAll(async () => {
  api = await startApi("api-tenants", { limits: { rateLimitPerMinute: RATE } });
  // The admin key's tenant gets room for the many admin calls below.
  await api.prisma.tenant.update({ where: { namespace: api.namespace }, data: { rateLimitPerMinute: 1000 } });
});
afterAll(async () => api?.stop());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const get = (key: string, path: string) => fetch(`${api.url}${path}`, { headers: bearer(key) });
const asAdmin = (method: string, path: string, body?: unknown) => fetch(`${api.url}${path}`, {
  method, headers: { ...bearer(api.adminKey), ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body),
});
const submitJson = (key: string) => fetch(`${api.url}/v1/jobs`, {
  method: "POST", headers: { ...bearer(key), "content-type": "application/json" },
  body: JSON.stringify({ model: "resize-x2", input: { uri: "https://example.com/cat.png" } }),
});
const policyQ = (res: Response) => Number(/;q=(\d+);/.exec(res.headers.get("ratelimit-policy") ?? "")?.[1]);

async function tenantNamed(name: string): Promise<TenantView> {
  const list = (await (await asAdmin("GET", "/v1/tenants")).json()) as { items: TenantView[] };
  return list.items.find((t) => t.name === name)!;
}

describe("DELETE /v1/tenants/:name", () => {
  it("disables the tenant and revokes its keys at once; its namespace and jobs stay; repeating it is 200", async () => {
    const tenant = await api.newTenant("ten-off");
    const submitted = await submitJson(tenant.key);
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    await eventually(async () => (await get(tenant.key, `/v1/jobs/${id}`)).ok, "the mirror to record the job");
    expect((await tenantNamed(tenant.name)).disabled_at).toBeNull();

    const res = await asAdmin("DELETE", `/v1/tenants/${tenant.name}`);
    expect(res.status).toBe(200);
    const disabled = (await res.json()) as TenantView;
    expect(disabled).toMatchObject({ name: tenant.name, namespace: tenant.namespace, disabled_at: expect.any(String) as string });

    const refused = await get(tenant.key, "/v1/jobs");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ type: "https://pixelmill.io/problems/unauthenticated" });
    const keys = await api.prisma.apiKey.findMany({ where: { tenantId: disabled.id } });
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.revokedAt !== null)).toBe(true);
    // A key added since (straight into the table) is refused all the same.
    const later = await api.newKey(["jobs:read"], { tenantId: disabled.id });
    expect((await get(later.key, "/v1/jobs")).status).toBe(401);

    // History stays: the listing shows it disabled, its job's row and its namespace are still there.
    expect(await tenantNamed(tenant.name)).toMatchObject({ disabled_at: disabled.disabled_at });
    expect(await api.jobs.get(tenant.namespace, id)).toMatchObject({ namespace: tenant.namespace });
    expect((await api.kc.makeApiClient(CoreV1Api).readNamespace({ name: tenant.namespace })).metadata?.name).toBe(tenant.namespace);

    const again = await asAdmin("DELETE", `/v1/tenants/${tenant.name}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(disabled);
  });

  it("refuses the platform tenant (409), an unknown one (404) and a key without admin (403)", async () => {
    const platform = await asAdmin("DELETE", "/v1/tenants/platform");
    expect(platform.status).toBe(409);
    expect(await platform.json()).toMatchObject({ type: "https://pixelmill.io/problems/tenant-protected", status: 409 });
    expect((await get(api.adminKey, "/v1/jobs")).status).toBe(200);
    expect((await asAdmin("DELETE", "/v1/tenants/no-such-tenant")).status).toBe(404);
    const other = await api.newTenant("ten-noadmin");
    const forbidden = await fetch(`${api.url}/v1/tenants/${other.name}`, { method: "DELETE", headers: bearer(other.key) });
    expect(forbidden.status).toBe(403);
    expect((await get(other.key, "/v1/jobs")).status).toBe(200);
  });
});

describe("PATCH /v1/tenants/:name", () => {
  it("sets the rate, which holds from the next request; null takes the default again", async () => {
    const tenant = await api.newTenant("ten-rate");
    expect(policyQ(await get(tenant.key, "/v1/jobs"))).toBe(RATE);

    const set = await asAdmin("PATCH", `/v1/tenants/${tenant.name}`, { limits: { rate_limit_per_minute: 7, max_active_jobs: 3 } });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ name: tenant.name, limits: { rate_limit_per_minute: 7, max_active_jobs: 3, max_upload_bytes_per_day: null } });
    expect(policyQ(await get(tenant.key, "/v1/jobs"))).toBe(7);
    expect((await tenantNamed(tenant.name)).limits).toEqual({ rate_limit_per_minute: 7, max_active_jobs: 3, max_upload_bytes_per_day: null, output_retention_days: null });

    // Only the named limit changes.
    const reset = await asAdmin("PATCH", `/v1/tenants/${tenant.name}`, { limits: { rate_limit_per_minute: null, max_upload_bytes_per_day: 5_000_000_000 } });
    expect(await reset.json()).toMatchObject({ limits: { rate_limit_per_minute: null, max_active_jobs: 3, max_upload_bytes_per_day: 5_000_000_000 } });
    expect(policyQ(await get(tenant.key, "/v1/jobs"))).toBe(RATE);
  });

  it("sets the active-jobs cap, held on the next submit", async () => {
    const tenant = await api.newTenant("ten-cap");
    expect((await asAdmin("PATCH", `/v1/tenants/${tenant.name}`, { limits: { max_active_jobs: 1 } })).status).toBe(200);
    expect((await submitJson(tenant.key)).status).toBe(202);
    const over = await submitJson(tenant.key);
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ type: "https://pixelmill.io/problems/tenant-cap", cap: "active-jobs", limit: 1 });
  });

  it("refuses a bad body with 400 problem+json, and an unknown tenant with 404", async () => {
    const tenant = await api.newTenant("ten-bad");
    for (const body of [
      {}, { limits: { rate_limit_per_minute: 0 } }, { limits: { max_active_jobs: -1 } }, { limits: { rate_limit_per_minute: 1.5 } },
      { limits: { max_upload_bytes_per_day: "10" } }, { limits: { rate_limit_per_minute: 10_000_000 } }, { limits: { burst: 3 } }, { limits: {}, extra: 1 },
      { limits: { output_retention_days: 0 } }, { limits: { output_retention_days: 3651 } },
    ]) {
      const res = await asAdmin("PATCH", `/v1/tenants/${tenant.name}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/invalid-request", errors: expect.any(Array) as unknown[] });
    }
    expect((await tenantNamed(tenant.name)).limits).toEqual({ rate_limit_per_minute: null, max_active_jobs: null, max_upload_bytes_per_day: null, output_retention_days: null });
    expect((await asAdmin("PATCH", "/v1/tenants/no-such-tenant", { limits: { max_active_jobs: 2 } })).status).toBe(404);
  });
});
