import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJobList } from "../../common/crd-types.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { sample, scrape } from "../../test/support/metrics.js";

// Request rate, active jobs and daily upload bytes (ADR 0009), on the real Redis and Postgres.
const RATE = 5;
const MAX_ACTIVE = 2;
let api: ApiFixture;
let png: Buffer;

beforeAll(async () => {
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#c04020" } }).png().toBuffer();
  api = await startApi("api-limits", { limits: { rateLimitPerMinute: RATE, maxActiveJobs: MAX_ACTIVE, maxUploadBytesPerDay: 1024 * 1024 } });
  // The platform tenant (the admin key and the fixture's key) has its own, higher rate: the override wins.
  await api.prisma.tenant.update({ where: { namespace: api.namespace }, data: { rateLimitPerMinute: 1000 } });
});
afterAll(async () => api?.stop());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const get = (key: string, path: string) => fetch(`${api.url}${path}`, { headers: bearer(key) });
const submitJson = (key: string) => fetch(`${api.url}/v1/jobs`, {
  method: "POST", headers: { ...bearer(key), "content-type": "application/json" },
  body: JSON.stringify({ model: "resize-x2", input: { uri: "https://example.com/cat.png" } }),
});
function submitUpload(key: string): Promise<Response> {
  const body = new FormData();
  body.append("model", "resize-x2");
  body.append("image", new Blob([png], { type: "image/png" }), "cat.png");
  return fetch(`${api.url}/v1/jobs`, { method: "POST", headers: bearer(key), body });
}

function rateHeaders(res: Response): { q: number; w: number; r: number; t: number } {
  const policy = /^"default";q=(\d+);w=(\d+)$/.exec(res.headers.get("ratelimit-policy") ?? "");
  const state = /^"default";r=(\d+);t=(\d+)$/.exec(res.headers.get("ratelimit") ?? "");
  expect(policy, `RateLimit-Policy: ${res.headers.get("ratelimit-policy")}`).not.toBeNull();
  expect(state, `RateLimit: ${res.headers.get("ratelimit")}`).not.toBeNull();
  return { q: Number(policy![1]), w: Number(policy![2]), r: Number(state![1]), t: Number(state![2]) };
}

async function expectProblem(res: Response, status: number, type: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `https://pixelmill.io/problems/${type}`, status });
  return body;
}

/** pixelmill_rate_limited_requests_total of `limit`, as the API's /metrics shows it now. */
async function refusals(limit: "requests_per_minute" | "active_jobs" | "upload_bytes_per_day"): Promise<number> {
  return sample(await scrape(`${api.url}/metrics`), `pixelmill_rate_limited_requests_total{limit="${limit}"}`);
}

async function imageJobCount(namespace: string): Promise<number> {
  const list = (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL })) as ImageJobList;
  return list.items.length;
}

describe("request rate per API key", () => {
  it("answers 200, 202 and 404 with the RateLimit headers, counting down", async () => {
    const { key } = await api.newTenant("lim-headers");
    const list = await get(key, "/v1/jobs");
    expect(list.status).toBe(200);
    const first = rateHeaders(list);
    expect(first).toMatchObject({ q: RATE, w: 60, r: RATE - 1 });
    expect(first.t).toBeGreaterThanOrEqual(1);
    expect(first.t).toBeLessThanOrEqual(60);

    const missing = await get(key, "/v1/jobs/00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
    expect(rateHeaders(missing)).toMatchObject({ q: RATE, r: RATE - 2 });

    const submitted = await submitJson(key);
    expect(submitted.status).toBe(202);
    expect(rateHeaders(submitted)).toMatchObject({ q: RATE, r: RATE - 3 });
  });

  it("refuses a burst past the limit with 429, Retry-After and a problem; another tenant's key keeps its own budget", async () => {
    const a = await api.newTenant("lim-burst-a");
    const b = await api.newTenant("lim-burst-b");
    const before = await refusals("requests_per_minute");
    const answers = await Promise.all(Array.from({ length: RATE + 3 }, () => get(a.key, "/v1/jobs")));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(RATE);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect(await refusals("requests_per_minute")).toBe(before + 3);
    const refused = answers.find((r) => r.status === 429)!;
    const body = await expectProblem(refused, 429, "rate-limited");
    expect(body.limit).toBe(RATE);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(rateHeaders(refused)).toMatchObject({ q: RATE, r: 0 });

    const other = await get(b.key, "/v1/jobs");
    expect(other.status).toBe(200);
    expect(rateHeaders(other)).toMatchObject({ q: RATE, r: RATE - 1 });
  });

  it("gives a tenant with its own rate that rate instead of the default", async () => {
    const answers = await Promise.all(Array.from({ length: RATE + 3 }, () => api.fetch(`${api.url}/v1/jobs`)));
    expect(answers.map((r) => r.status)).toEqual(Array(RATE + 3).fill(200));
    expect(rateHeaders(answers[0]!).q).toBe(1000);
  });
});

describe("tenant caps", () => {
  it("refuses a submit past the active-jobs cap with 429 naming the cap, creating no ImageJob", async () => {
    const tenant = await api.newTenant("lim-active");
    for (let i = 0; i < MAX_ACTIVE; i++) expect((await submitJson(tenant.key)).status).toBe(202);
    const before = await refusals("active_jobs");
    const body = await expectProblem(await submitJson(tenant.key), 429, "tenant-cap");
    expect(body).toMatchObject({ cap: "active-jobs", limit: MAX_ACTIVE });
    expect(await refusals("active_jobs")).toBe(before + 1);
    expect(await imageJobCount(tenant.namespace)).toBe(MAX_ACTIVE);
  });

  it("takes a tenant's own active-jobs cap over the default", async () => {
    const tenant = await api.newTenant("lim-active-own");
    await api.prisma.tenant.update({ where: { name: tenant.name }, data: { maxActiveJobs: 1 } });
    expect((await submitJson(tenant.key)).status).toBe(202);
    const body = await expectProblem(await submitJson(tenant.key), 429, "tenant-cap");
    expect(body).toMatchObject({ cap: "active-jobs", limit: 1 });
    expect(await imageJobCount(tenant.namespace)).toBe(1);
  });

  it("refuses and deletes an upload that takes the day past the tenant's bytes cap, then refuses before reading", async () => {
    const tenant = await api.newTenant("lim-bytes");
    const cap = Math.floor(png.length * 1.5);
    await api.prisma.tenant.update({ where: { name: tenant.name }, data: { maxUploadBytesPerDay: BigInt(cap), maxActiveJobs: 10 } });
    expect((await submitUpload(tenant.key)).status).toBe(202);
    const before = await refusals("upload_bytes_per_day");

    const over = await submitUpload(tenant.key);
    const body = await expectProblem(over, 429, "tenant-cap");
    expect(body).toMatchObject({ cap: "upload-bytes-per-day", limit: cap });
    const retryAfter = Number(over.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(await imageJobCount(tenant.namespace)).toBe(1);
    expect((await api.listKeys()).filter((k) => k.startsWith(`uploads/${tenant.namespace}/`))).toHaveLength(1);

    // The refused bytes were taken back: the day holds one upload; lowered to it, the cap refuses before the body is read.
    await api.prisma.tenant.update({ where: { name: tenant.name }, data: { maxUploadBytesPerDay: BigInt(png.length) } });
    const full = await submitUpload(tenant.key);
    expect(await expectProblem(full, 429, "tenant-cap")).toMatchObject({ cap: "upload-bytes-per-day", limit: png.length });
    expect(await refusals("upload_bytes_per_day")).toBe(before + 2);
    expect((await api.listKeys()).filter((k) => k.startsWith(`uploads/${tenant.namespace}/`))).toHaveLength(1);
  });
});
