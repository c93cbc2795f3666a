import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { queueName, type QueueJobData, type QueueJobResult } from "../common/queue.js";

export type QueueJobState = "waiting" | "delayed" | "active" | "completed" | "failed";

export interface QueueJobView {
  state: QueueJobState;
  /** Attempts that have finished (failed or succeeded). */
  attemptsMade: number;
  /** Attempts that have started, the running one included. */
  attemptsStarted: number;
  processedOn?: number;
  finishedOn?: number;
  result?: QueueJobResult;
  failedReason?: string;
}

export interface EnqueueOptions {
  maxAttempts: number;
  /** ImageJob spec.priority, -100 (last) .. 100 (first). */
  priority: number;
  retryBaseDelayMs: number;
}

/** The operator's side of the queue contract (common/queue.ts): one BullMQ queue per model. */
export class JobQueue {
  private readonly queues = new Map<string, Queue<QueueJobData, QueueJobResult>>();

  constructor(private readonly connection: Redis, private readonly prefix: string) {}

  /** Enqueues the job once: BullMQ ignores an add whose job id (the ImageJob UID) exists. */
  async enqueue(data: QueueJobData, opts: EnqueueOptions): Promise<void> {
    await this.queue(data.model).add("image", data, {
      jobId: data.uid,
      attempts: opts.maxAttempts,
      backoff: { type: "exponential", delay: opts.retryBaseDelayMs },
      // Every job gets a BullMQ priority (1 is first), so spec.priority orders all of them.
      priority: 101 - opts.priority,
      // Kept a day so a reconcile can read how the job ended after an operator restart.
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  async get(model: string, uid: string): Promise<QueueJobView | undefined> {
    // State first, then the job: what the job hash says is then at least as new as the state
    // (a job read first and found "failed" a moment later would have no failedReason yet).
    const raw = await this.queue(model).getJobState(uid);
    const job = await this.queue(model).getJob(uid);
    if (!job) return undefined;
    const state: QueueJobState | undefined =
      raw === "prioritized" || raw === "waiting-children" || raw === "waiting" ? "waiting" : raw === "unknown" ? undefined : raw;
    if (!state) return undefined;
    return {
      state,
      attemptsMade: job.attemptsMade,
      attemptsStarted: job.attemptsStarted,
      processedOn: job.processedOn,
      finishedOn: job.finishedOn,
      result: state === "completed" ? job.returnvalue : undefined,
      failedReason: job.failedReason || undefined,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private queue(model: string): Queue<QueueJobData, QueueJobResult> {
    let q = this.queues.get(model);
    if (!q) {
      q = new Queue<QueueJobData, QueueJobResult>(queueName(model), { connection: this.connection, prefix: this.prefix });
      this.queues.set(model, q);
    }
    return q;
  }
}
