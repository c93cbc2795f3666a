import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { Authenticate } from "./authenticate.js";
import { TenantCapError } from "./errors.js";
import { effectiveLimits, TenantCaps, utcDay } from "./limits.js";
import type { ApiKeyRepository, RateDecision, UploadCounter } from "./ports.js";
import type { Principal } from "./principal.js";

const defaults = { rateLimitPerMinute: 600, maxActiveJobs: 1000, maxUploadBytesPerDay: 100 };
const principal: Principal = { tenantId: "t1", tenantName: "acme", namespace: "acme", keyId: "k1", scopes: ["jobs:write"] };

class MemoryCounter implements UploadCounter {
  readonly totals = new Map<string, number>();
  add(tenantId: string, day: string, bytes: number): Promise<number> {
    const total = (this.totals.get(`${tenantId}:${day}`) ?? 0) + bytes;
    this.totals.set(`${tenantId}:${day}`, total);
    return Promise.resolve(total);
  }
  total(tenantId: string, day: string): Promise<number> {
    return Promise.resolve(this.totals.get(`${tenantId}:${day}`) ?? 0);
  }
}

describe("effectiveLimits", () => {
  it("takes each override the tenant has, the default for the others", () => {
    expect(effectiveLimits(defaults)).toEqual(defaults);
    expect(effectiveLimits(defaults, { rateLimitPerMinute: 5, maxActiveJobs: null, maxUploadBytesPerDay: 0 }))
      .toEqual({ rateLimitPerMinute: 5, maxActiveJobs: 1000, maxUploadBytesPerDay: 0 });
  });
});

describe("utcDay", () => {
  it("names the UTC day and the seconds left in it", () => {
    expect(utcDay(new Date("2026-12-01T23:59:30.000Z"))).toEqual({ day: "2026-12-01", secondsLeft: 30 });
    expect(utcDay(new Date("2026-12-31T00:00:00.000Z"))).toEqual({ day: "2026-12-31", secondsLeft: 86_400 });
    expect(utcDay(new Date("2026-12-31T23:59:59.999Z")).secondsLeft).toBe(1);
  });
});

describe("TenantCaps", () => {
  const now = () => new Date("2026-12-01T12:00:00.000Z");

  it("refuses at the active-jobs cap, naming it", async () => {
    const caps = new TenantCaps({ defaults, jobs: { countActive: () => Promise.resolve(3) }, uploads: new MemoryCounter(), now });
    await expect(caps.checkActiveJobs({ ...principal, limits: { maxActiveJobs: 4 } })).resolves.toBeUndefined();
    const err = await caps.checkActiveJobs({ ...principal, limits: { maxActiveJobs: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantCapError);
    expect(err).toMatchObject({ cap: "active-jobs", limit: 3, retryAfterSeconds: undefined });
  });

  it("counts uploads per day, takes back one that passes the cap, and refuses before the next once full", async () => {
    const uploads = new MemoryCounter();
    const caps = new TenantCaps({ defaults, jobs: { countActive: () => Promise.resolve(0) }, uploads, now });
    await caps.recordUpload(principal, 60);
    const err = await caps.recordUpload(principal, 60).catch((e: unknown) => e);
    expect(err).toMatchObject({ cap: "upload-bytes-per-day", limit: 100, retryAfterSeconds: 12 * 3600 });
    expect(await uploads.total("t1", "2026-12-01")).toBe(60);
    await caps.checkUploadRoom(principal);
    await caps.recordUpload(principal, 40);
    await expect(caps.checkUploadRoom(principal)).rejects.toBeInstanceOf(TenantCapError);
  });
});

describe("Authenticate.admit", () => {
  const keys = {} as ApiKeyRepository;
  const log = createLogger({ level: "silent" });

  it("counts against the tenant's own rate when it has one, else the default", async () => {
    const seen: number[] = [];
    const limiter = { take: (_key: string, limit: number): Promise<RateDecision> => {
      seen.push(limit);
      return Promise.resolve({ allowed: true, limit, windowSeconds: 60, remaining: limit - 1, resetSeconds: 60 });
    } };
    const auth = new Authenticate({ keys, log, rateLimits: { limiter, defaultPerMinute: 600 } });
    await auth.admit(principal);
    await auth.admit({ ...principal, limits: { rateLimitPerMinute: 7 } });
    expect(seen).toEqual([600, 7]);
  });

  it("lets the request pass unlimited when the limiter cannot be reached", async () => {
    const limiter = { take: () => Promise.reject(new Error("Redis is not ready")) };
    const auth = new Authenticate({ keys, log, rateLimits: { limiter, defaultPerMinute: 600 } });
    await expect(auth.admit(principal)).resolves.toBeUndefined();
    await expect(new Authenticate({ keys, log }).admit(principal)).resolves.toBeUndefined();
  });
});
