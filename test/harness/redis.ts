import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, startProcess, waitUntil } from "./processes.js";
import type { Service } from "./postgres.js";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** REDIS_URL, else the machine's server on 6379, else a redis-server started in `dir` (see providePostgres). */
export async function provideRedis(dir: string): Promise<Service> {
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const own = process.env.PIXELMILL_OWN_SERVICES === "1";
  if (!own && (await canPing(url))) return { url, owned: false, stop: async () => {} };
  if (!own && process.env.REDIS_URL) throw new Error(`REDIS_URL is set but Redis does not answer there: ${url}`);
  const port = await freePort();
  const proc = startProcess({
    name: "redis",
    command: "redis-server",
    logPath: join(dir, "redis.log"),
    args: ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
  });
  const started = `redis://127.0.0.1:${port}`;
  await waitUntil("redis-server to answer PING", () => canPing(started), { timeoutMs: 15_000, process: proc });
  return { url: started, owned: true, stop: () => proc.stop() };
}

export async function canPing(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
