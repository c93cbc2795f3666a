import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../common/logger.js";
import { parsePoolSample, POOL_HISTORY_MAX, POOL_HISTORY_TTL_SECONDS, poolHistoryKey, type PoolSample } from "../../../common/pool-history.js";
import { testEnv, uniqueName } from "../../../test/support/env.js";
import { PoolSampler } from "./pool-sampler.js";

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
});
afterAll(() => redis?.disconnect());

const log = createLogger({ level: "silent" });
const T0 = Date.parse("2026-12-01T10:00:00Z");
const sample = (at: number, desired = 1): PoolSample => ({ at, desired, ready: 1, pending: 0, waiting: 3, inFlight: 2 });
const stored = async (key: string) => (await redis.lrange(key, 0, -1)).map((raw) => parsePoolSample(raw)!);

describe("PoolSampler", () => {
  it("records at most one sample per pool per 30 s, whatever the reconcile rate", async () => {
    const prefix = uniqueName("sampler");
    const sampler = new PoolSampler(redis, prefix, log);
    const key = poolHistoryKey(prefix, "ns", "h100");
    expect(await sampler.record("ns", "h100", sample(T0))).toBe(true);
    expect(await sampler.record("ns", "h100", sample(T0 + 5_000, 2))).toBe(false);
    expect(await sampler.record("ns", "h100", sample(T0 + 29_999, 3))).toBe(false);
    // Another pool has its own clock.
    expect(await sampler.record("ns", "a100", sample(T0 + 10_000))).toBe(true);
    expect(await sampler.record("ns", "h100", sample(T0 + 30_000, 4))).toBe(true);
    expect(await stored(key)).toEqual([sample(T0), sample(T0 + 30_000, 4)]);
    expect(await redis.llen(poolHistoryKey(prefix, "ns", "a100"))).toBe(1);
  });

  it("carries the most jobs waiting and in flight seen between two samples into the next", async () => {
    const prefix = uniqueName("sampler");
    const sampler = new PoolSampler(redis, prefix, log);
    const at = (t: number, waiting: number, inFlight: number): PoolSample => ({ at: t, desired: 1, ready: 1, pending: 0, waiting, inFlight });
    await sampler.record("ns", "p", at(T0, 0, 0));
    await sampler.record("ns", "p", at(T0 + 10_000, 9, 1)); // a burst, gone by the next sample
    await sampler.record("ns", "p", at(T0 + 20_000, 2, 4));
    await sampler.record("ns", "p", at(T0 + 30_000, 0, 0));
    await sampler.record("ns", "p", at(T0 + 60_000, 0, 0));
    expect(await stored(poolHistoryKey(prefix, "ns", "p"))).toEqual([at(T0, 0, 0), at(T0 + 30_000, 9, 4), at(T0 + 60_000, 0, 0)]);
  });

  it("keeps the newest hour of samples and lets a pool's list expire an hour after its latest", async () => {
    const prefix = uniqueName("sampler");
    const sampler = new PoolSampler(redis, prefix, log);
    const key = poolHistoryKey(prefix, "ns", "busy");
    for (let i = 0; i < POOL_HISTORY_MAX + 10; i++) await sampler.record("ns", "busy", sample(T0 + i * 30_000, i));
    const kept = await stored(key);
    expect(kept).toHaveLength(POOL_HISTORY_MAX);
    expect(kept[0]).toEqual(sample(T0 + 10 * 30_000, 10));
    expect(kept.at(-1)).toEqual(sample(T0 + (POOL_HISTORY_MAX + 9) * 30_000, POOL_HISTORY_MAX + 9));
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(POOL_HISTORY_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(POOL_HISTORY_TTL_SECONDS);
  });

  it("tries again at the next reconcile when Redis refused the sample", async () => {
    const prefix = uniqueName("sampler");
    const sampler = new PoolSampler(redis, prefix, log);
    const key = poolHistoryKey(prefix, "ns", "p");
    await redis.set(key, "not a list"); // RPUSH answers WRONGTYPE
    expect(await sampler.record("ns", "p", sample(T0))).toBe(false);
    await redis.del(key);
    expect(await sampler.record("ns", "p", sample(T0 + 1_000))).toBe(true);
    expect(await stored(key)).toEqual([sample(T0 + 1_000)]);
  });
});
