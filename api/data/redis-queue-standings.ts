import type { Redis } from "ioredis";
import { queueKey } from "../../common/queue.js";
import type { QueueStanding, QueueStandings } from "../domain/queue-position.js";

/**
 * Queue positions read from BullMQ's keys directly (common/queue.ts queueKey), with no Queue
 * object per model. Workers take the `wait` list first, then the `prioritized` set lowest score
 * first, so the jobs ahead are LLEN(wait) + ZRANK(prioritized, uid): O(1) + O(log n). The pace
 * is ZCOUNT of the `completed` and `failed` sets (scored by end time) since a time: O(log n).
 * One MULTI, one round trip, one consistent view.
 */
export class RedisQueueStandings implements QueueStandings {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async standing(model: string, uid: string, endedSince: number): Promise<QueueStanding | undefined> {
    // Not connected: unknown at once, rather than a GET waiting for Redis to come back.
    if (this.redis.status !== "ready") return undefined;
    const key = (type: Parameters<typeof queueKey>[2]) => queueKey(this.prefix, model, type);
    const replies = await this.redis.multi()
      .llen(key("wait"))
      .zrank(key("prioritized"), uid)
      .zcard(key("prioritized"))
      .zcount(key("completed"), endedSince, "+inf")
      .zcount(key("failed"), endedSince, "+inf")
      .exec();
    if (!replies) throw new Error("the queue position transaction was aborted");
    const values = replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    const [wait, rank, prioritized, completed, failed] = values as [number, number | null, number, number, number];
    if (rank === null) return undefined;
    return { ahead: wait + rank, waiting: wait + prioritized, endedInWindow: completed + failed };
  }
}
