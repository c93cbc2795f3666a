import { afterAll, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { testEnv, uniqueName } from "../test/support/env.js";
import { createRedis, redisHealthy } from "./redis.js";

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));
const connect = (prefix?: string) => {
  const c = createRedis(testEnv().redisUrl, { keyPrefix: prefix && `${prefix}:`, connectionName: "pixelmill-test" });
  clients.push(c);
  return c;
};

it("round-trips values under its key prefix, invisible to another prefix", async () => {
  const [pa, pb] = [uniqueName("redis-a"), uniqueName("redis-b")];
  const a = connect(pa);
  const b = connect(pb);
  await a.set("job:1", "queued", "EX", 60);
  expect(await a.get("job:1")).toBe("queued");
  expect(await b.get("job:1")).toBeNull();
  const raw = connect();
  expect(await raw.get(`${pa}:job:1`)).toBe("queued");
  expect(await raw.ttl(`${pa}:job:1`)).toBeGreaterThan(50);
  await a.del("job:1");
});

it("says healthy when Redis answers and unhealthy, quickly, when nothing listens", async () => {
  expect(await redisHealthy(connect(uniqueName("h")))).toBe(true);
  const dead = createRedis("redis://127.0.0.1:1");
  clients.push(dead);
  const started = Date.now();
  expect(await redisHealthy(dead, 300)).toBe(false);
  expect(Date.now() - started).toBeLessThan(2000);
});
