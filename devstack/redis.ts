import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, startProcess, waitUntil } from "./processes.js";
import { ownedService, type Service } from "./postgres.js";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * REDIS_URL, else the machine's server on 6379, else a redis-server started in `dir` (see
 * providePostgres). `own` (default: PIXELMILL_OWN_SERVICES=1) always starts one, which can then
 * be restarted.
 */
export async function provideRedis(dir: string, opts: { own?: boolean } = {}): Promise<Service> {
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const own = opts.own ?? process.env.PIXELMILL_OWN_SERVICES === "1";
  if (!own && (await canPing(url))) return { url, owned: false, stop: async () => {} };
  if (!own && process.env.REDIS_URL) throw new Error(`REDIS_URL is set but Redis does not answer there: ${url}`);
  return startRedis(dir);
}

/**
 * A redis-server with an append-only file in `dir/redis`, so a restart (SIGTERM, which writes it
 * out, then a start on the same port and files) keeps every queue, as a production Redis would.
 */
async function startRedis(dir: string): Promise<Service> {
  const data = join(dir, "redis");
  await mkdir(data, { recursive: true });
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    const started = startProcess({
      name: "redis",
      command: "redis-server",
      logPath: join(dir, "redis.log"),
      args: ["--port", String(port), "--bind", "127.0.0.1", "--dir", data, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
    });
    await waitUntil("redis-server to answer PING", () => canPing(url), { timeoutMs: 15_000, process: started });
    return started;
  };
  return ownedService(url, start);
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
