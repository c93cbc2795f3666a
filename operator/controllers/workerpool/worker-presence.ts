import type { Redis } from "ioredis";
import { parsePresence, PRESENCE_TTL_MS, presenceKey } from "../../../common/presence.js";

export interface PoolPresence {
  /** Jobs running on the pool's live workers that still take jobs (draining ones finish theirs without a replica). */
  inFlight: number;
  /** Live workers running at least one job. */
  busyWorkers: number;
  /** The latest job end any live worker reported. */
  lastDone?: number;
  /** Jobs in hand by pod name, for pod-deletion-cost. */
  busyByPod: Map<string, number>;
}

/** The operator's reading of the workers' presence entries (common/presence.ts). */
export class PresenceReader {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly now: () => number = Date.now) {}

  async read(namespace: string, pool: string): Promise<PoolPresence> {
    const key = presenceKey(this.prefix, namespace, pool);
    const entries = await this.redis.hgetall(key);
    const now = this.now();
    const presence: PoolPresence = { inFlight: 0, busyWorkers: 0, busyByPod: new Map() };
    const dead: string[] = [];
    for (const [pod, raw] of Object.entries(entries)) {
      const entry = parsePresence(raw);
      if (!entry || now - entry.at > PRESENCE_TTL_MS) {
        dead.push(pod);
        continue;
      }
      if (entry.lastDone !== undefined) presence.lastDone = Math.max(presence.lastDone ?? 0, entry.lastDone);
      // A draining worker finishes what it holds on its way out: its jobs need no replica.
      if (!entry.accepting) continue;
      presence.inFlight += entry.busy;
      if (entry.busy > 0) presence.busyWorkers++;
      presence.busyByPod.set(pod, entry.busy);
    }
    // A worker killed without stopping leaves its entry behind.
    if (dead.length) await this.redis.hdel(key, ...dead);
    return presence;
  }
}
