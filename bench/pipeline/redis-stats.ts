import { Redis } from "ioredis";

/** Calls per Redis command (INFO commandstats), the server's own count: every client's round trips. */
export async function redisCalls(url: string): Promise<Map<string, number>> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const text = await redis.info("commandstats");
    const calls = new Map<string, number>();
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
    return calls;
  } finally {
    redis.disconnect();
  }
}

/** after − before, largest first; the snapshot's own INFO calls are left in (one each). */
export function callsDiff(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after].map(([cmd, n]): [string, number] => [cmd, n - (before.get(cmd) ?? 0)]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
}
