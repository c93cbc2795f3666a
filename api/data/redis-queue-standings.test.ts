import { randomUUID } from "node:crypto";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueJobData } from "../../common/queue.js";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { JobQueue } from "../../operator/job-queue.js";
import { RedisQueueStandings } from "./redis-queue-standings.js";

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
});
afterAll(() => redis?.disconnect());

const MODEL = "resize-x2";

function data(uid: string): QueueJobData {
  return {
    uid, namespace: "tenant", name: uid, model: MODEL, modelVersion: "1", params: {}, output: { format: "png" },
    modelSpec: { source: { uri: "builtin:resize-x2" }, task: "image-to-image" },
  };
}

async function enqueue(queue: JobQueue, priority: number): Promise<string> {
  const uid = randomUUID();
  await queue.enqueue(data(uid), { maxAttempts: 1, priority, retryBaseDelayMs: 1000 });
  return uid;
}

describe("RedisQueueStandings", () => {
  it("counts the jobs ahead as the operator's BullMQ queue orders them, priorities included", async () => {
    const prefix = uniqueName("standings");
    const queue = new JobQueue(redis, prefix);
    const standings = new RedisQueueStandings(redis, prefix);
    try {
      const first = await enqueue(queue, 0);
      const second = await enqueue(queue, 0);
      const urgent = await enqueue(queue, 50); // enqueued last, taken first
      const ahead = async (uid: string) => (await standings.standing(MODEL, uid, 0))?.ahead;
      expect([await ahead(urgent), await ahead(first), await ahead(second)]).toEqual([0, 1, 2]);
      expect(await standings.standing(MODEL, first, 0)).toEqual({ ahead: 1, waiting: 3, endedInWindow: 0 });
      expect(await standings.standing(MODEL, randomUUID(), 0)).toBeUndefined();
      expect(await standings.standing("another-model", first, 0)).toBeUndefined();

      // A real worker takes the next job (the urgent one) and finishes it: it leaves the queue,
      // and counts in the pace since any time before it ended, not since a time after.
      const before = Date.now() - 1000;
      const worker = new Worker(`model-${MODEL}`, null, { connection: redis.duplicate(), prefix, autorun: false });
      try {
        const token = randomUUID();
        const job = await worker.getNextJob(token);
        expect(job?.id).toBe(urgent);
        await job.moveToCompleted({ done: true }, token, false);
      } finally {
        await worker.close();
      }
      expect(await ahead(urgent)).toBeUndefined();
      expect(await standings.standing(MODEL, first, before)).toEqual({ ahead: 0, waiting: 2, endedInWindow: 1 });
      expect((await standings.standing(MODEL, second, Date.now() + 60_000))?.endedInWindow).toBe(0);
    } finally {
      await queue.close();
    }
  });

  it("tells nothing, at once, while Redis is not connected", async () => {
    const closed = new Redis(testEnv().redisUrl, { lazyConnect: true });
    const standings = new RedisQueueStandings(closed, uniqueName("standings"));
    expect(await standings.standing(MODEL, randomUUID(), 0)).toBeUndefined();
    closed.disconnect();
  });
});
