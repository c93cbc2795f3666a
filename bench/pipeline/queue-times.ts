import { Redis } from "ioredis";
import { queueName } from "../../common/queue.js";

/** When the operator added a job to its queue, and when a worker took it and finished it (epoch ms, BullMQ's own fields). */
export interface QueueTimes {
  enqueued: number;
  taken: number;
  done: number;
}

/** Reads BullMQ's timestamp, processedOn and finishedOn of each job (queue job id = ImageJob UID), kept a day after it ends. */
export async function queueTimes(redisUrl: string, prefix: string, model: string, uids: readonly string[]): Promise<Map<string, QueueTimes>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const pipeline = redis.pipeline();
    for (const uid of uids) pipeline.hmget(`${prefix}:${queueName(model)}:${uid}`, "timestamp", "processedOn", "finishedOn");
    const replies = (await pipeline.exec()) ?? [];
    const out = new Map<string, QueueTimes>();
    replies.forEach(([err, fields], i) => {
      const [enqueued, taken, done] = (fields as Array<string | null>).map(Number);
      if (!err && enqueued && taken && done) out.set(uids[i]!, { enqueued, taken, done });
    });
    return out;
  } finally {
    redis.disconnect();
  }
}
