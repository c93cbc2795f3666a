import { UnrecoverableError, WaitingError, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { batchKey, recordItemArgs, type BatchItemResult } from "../../common/batch.js";
import { parseFailure } from "../../common/job/failure-reasons.js";
import type { Logger } from "../../common/logger.js";
import type { QueueJobData, QueueJobResult } from "../../common/queue.js";
import type { JobProcessor } from "../process-job.js";

/**
 * Wraps the processor for batch items (common/batch.ts): `running` counts attempts in hand, and an
 * item that ends for good (succeeded, an unretried failure, or its last attempt) records its
 * result and its counter in one script. Single jobs pass through untouched. A record that fails
 * (Redis away) fails the attempt, so BullMQ retries it rather than lose the item's result.
 */
export function recordBatchItems(run: JobProcessor, redis: Redis, prefix: string, log: Logger): JobProcessor {
  return async (job, token, signal) => {
    const ref = (job.data as Partial<QueueJobData> | undefined)?.batch;
    if (!ref) return run(job, token, signal);
    const { uid } = ref;
    await redis.hincrby(batchKey(prefix, uid, "counts"), "running", 1);
    let result: QueueJobResult;
    try {
      result = await run(job, token, signal);
    } catch (err) {
      if (err instanceof WaitingError || !isFinal(job, err)) {
        await redis.hincrby(batchKey(prefix, uid, "counts"), "running", -1);
        throw err;
      }
      const { reason, message } = parseFailure((err as Error).message);
      await record(redis, prefix, uid, item(job, reason === "Canceled" ? "Canceled" : "Failed", { error: { reason, message } }), log);
      throw err;
    }
    await record(redis, prefix, uid, item(job, "Succeeded", { output: result }), log);
    return result;
  };
}

/** An attempt whose failure BullMQ will not retry: unrecoverable, or the last of its attempts. */
function isFinal(job: Job<QueueJobData, QueueJobResult>, err: unknown): boolean {
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

function item(job: Job<QueueJobData, QueueJobResult>, phase: BatchItemResult["phase"], rest: Pick<BatchItemResult, "output" | "error">): BatchItemResult {
  const { index } = job.data.batch!;
  return { index, input: job.data.inputUri ?? "", phase, ...rest, attempts: job.attemptsMade + 1, finishedAt: new Date().toISOString() };
}

async function record(redis: Redis, prefix: string, uid: string, result: BatchItemResult, log: Logger): Promise<void> {
  const recorded = await redis.eval(...recordItemArgs(prefix, uid, result, -1));
  // Not recorded: the operator counted the item canceled first (the batch was deleted meanwhile).
  if (recorded !== 1) log.debug({ jobUid: uid, index: result.index, phase: result.phase }, "Batch item already recorded");
}
