import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { batchItemJobId } from "../common/batch.js";
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

/** Who a queue job belongs to, as the sweep of canceled jobs needs it. */
export interface QueueJobRef {
  uid: string;
  namespace: string;
  name: string;
  model: string;
  /** When it was enqueued (ms). */
  enqueuedAt: number;
}

export interface EnqueueOptions {
  maxAttempts: number;
  /** ImageJob spec.priority, -100 (last) .. 100 (first). */
  priority: number;
  retryBaseDelayMs: number;
}

/** BullMQ's prioritized score: priority × 2^32 + arrival counter; priorities 1..201 (101 - spec.priority). */
const PRIORITY_SCORE_STEP = 0x100000000;
const PRIORITY_LEVELS = 201;
/** Batch items added, or removed, per round trip. */
const ITEM_CHUNK = 500;

/** The operator's side of the queue contract (common/queue.ts): one BullMQ queue per model. */
export class JobQueue {
  private readonly queues = new Map<string, Queue<QueueJobData, QueueJobResult>>();
  /** Models this process has added to the set of queued models since its connection was last (re)made. */
  private readonly listed = new Set<string>();

  constructor(private readonly connection: Redis, private readonly prefix: string) {
    // A Redis that came back may have come back without its data (no persistence): list them again.
    connection.on("ready", () => this.listed.clear());
  }

  /** Enqueues the job once: BullMQ ignores an add whose job id (the ImageJob UID) exists. */
  async enqueue(data: QueueJobData, opts: EnqueueOptions): Promise<void> {
    // The models that ever had a queue, so the sweep of canceled jobs finds every queue: once per
    // model and connection, not a command per job.
    if (!this.listed.has(data.model)) {
      await this.connection.sadd(this.modelsKey(), data.model);
      this.listed.add(data.model);
    }
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

  /**
   * Enqueues a batch's items (common/batch.ts), 500 to a round trip. Ids are `${uid}-${index}`,
   * so adding them again (an operator restarted mid-way) adds nothing. Items leave the queue when
   * they end: the batch's results hash is their record.
   */
  async enqueueItems(items: readonly QueueJobData[], opts: EnqueueOptions): Promise<void> {
    const model = items[0]?.model;
    if (model === undefined) return;
    if (!this.listed.has(model)) {
      await this.connection.sadd(this.modelsKey(), model);
      this.listed.add(model);
    }
    const jobOpts = {
      attempts: opts.maxAttempts, backoff: { type: "exponential", delay: opts.retryBaseDelayMs }, priority: 101 - opts.priority,
      removeOnComplete: true, removeOnFail: true,
    };
    for (let i = 0; i < items.length; i += ITEM_CHUNK) {
      await this.queue(model).addBulk(items.slice(i, i + ITEM_CHUNK).map((data) => ({ name: "image", data, opts: { ...jobOpts, jobId: batchItemJobId(data.uid, data.batch!.index) } })));
    }
  }

  /** Removes a batch's items no worker has taken; those running are left to the cancel marker. Returns how many went. */
  async removeItems(model: string, uid: string, total: number): Promise<number> {
    let removed = 0;
    for (let i = 0; i < total; i += ITEM_CHUNK) {
      const ids = Array.from({ length: Math.min(ITEM_CHUNK, total - i) }, (_, j) => batchItemJobId(uid, i + j));
      const answers = await Promise.all(ids.map((id) => this.removeWaiting(model, id).catch(() => false)));
      removed += answers.filter(Boolean).length;
    }
    return removed;
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

  /**
   * Removes a job that no worker has taken (waiting, prioritized or delayed); false when it is
   * not there, has finished (kept for the record), or a worker holds it (BullMQ refuses to remove
   * a locked job, so one taken between the two calls stays). A job taken and finished between
   * them would be removed: a window of one Redis round trip.
   */
  async removeWaiting(model: string, uid: string): Promise<boolean> {
    const state = await this.queue(model).getJobState(uid);
    if (state !== "waiting" && state !== "prioritized" && state !== "delayed") return false;
    return (await this.queue(model).remove(uid)) === 1;
  }

  /** Models with a queue under this prefix. */
  async models(): Promise<string[]> {
    return this.connection.smembers(this.modelsKey());
  }

  /** UIDs of the model's jobs that have not finished: waiting, prioritized, delayed or active. */
  async unfinishedUids(model: string): Promise<string[]> {
    return this.queue(model).getRanges(["waiting", "prioritized", "delayed", "active"]);
  }

  /** Who the queue job `id` belongs to: a batch item's ImageJob is its batch's (data.uid), not its own id. */
  async ref(model: string, id: string): Promise<QueueJobRef | undefined> {
    const job = await this.queue(model).getJob(id);
    const data = job?.data as Partial<QueueJobData> | undefined;
    if (!job || typeof data?.namespace !== "string" || typeof data.name !== "string") return undefined;
    const uid = typeof data.uid === "string" ? data.uid : id;
    return { uid, namespace: data.namespace, name: data.name, model, enqueuedAt: job.timestamp };
  }

  /** Jobs of `model` not yet taken: waiting, prioritized, and delayed (retries in their backoff). */
  async waiting(model: string): Promise<number> {
    const counts = await this.queue(model).getJobCounts("waiting", "prioritized", "delayed");
    return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
  }

  /**
   * When the oldest job of `model` not yet taken by a worker was enqueued (ms), or undefined when
   * none waits. Every job is enqueued with a priority, so waiting jobs sit in BullMQ's prioritized
   * set, ordered by priority level and then by arrival: the first job of each level present is
   * that level's oldest, found with one lookup per level (a handful), never a scan of the queue.
   * Delayed jobs (retries in their backoff) wait for their time, not for a worker: not counted.
   */
  async oldestWaiting(model: string): Promise<number | undefined> {
    const queue = this.queue(model);
    const heads: string[] = [];
    const unprioritized = await this.connection.lindex(queue.toKey("wait"), -1); // pushed on the left, taken from the right
    if (unprioritized) heads.push(unprioritized);
    for (let from = 0, levels = 0; levels <= PRIORITY_LEVELS; levels++) {
      const [uid, score] = await this.connection.zrangebyscore(queue.toKey("prioritized"), from, "+inf", "WITHSCORES", "LIMIT", 0, 1);
      if (uid === undefined || score === undefined) break;
      heads.push(uid);
      from = (Math.floor(Number(score) / PRIORITY_SCORE_STEP) + 1) * PRIORITY_SCORE_STEP;
    }
    const enqueued = await Promise.all(heads.map((uid) => this.connection.hget(queue.toKey(uid), "timestamp")));
    const times = enqueued.map(Number).filter((t) => t > 0);
    return times.length ? Math.min(...times) : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private modelsKey(): string {
    return `${this.prefix}:queued-models`;
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
