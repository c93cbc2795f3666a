import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { ConfigError } from "../../common/errors.js";
import { createRedis } from "../../common/redis.js";
import { queueName, type QueueJobData, type QueueJobResult } from "../../common/queue.js";
import { recordBatchItems } from "./batch-recorder.js";
import { CancelListener } from "./cancel-listener.js";
import { Notifier } from "./notifier.js";
import { PresenceReporter, type PresenceOptions } from "./presence.js";
import { ProgressPublisher } from "./progress-publisher.js";
import { ResultCache } from "../result-cache.js";
import { jobProcessor, type JobDeps, type JobProcessor } from "../process-job.js";

export interface ConsumerOptions extends JobDeps {
  redisUrl: string;
  /** QUEUE_PREFIX: BullMQ's key prefix, and the notification stream's. */
  prefix: string;
  /** WORKER_MODELS: one queue each. */
  models: string[];
  /** WORKER_CONCURRENCY: jobs at once, per model queue. */
  concurrency: number;
  /**
   * How long a job's lock lives without renewal (ms, BullMQ's default 30 000). A worker that dies
   * mid-job stops renewing; BullMQ's stalled-job check (default interval and count kept) then
   * gives the job to another worker.
   */
  lockDuration?: number;
  /** BullMQ's stalled-job check interval (ms). Leave unset (BullMQ's 30 000) but in tests. */
  stalledInterval?: number;
  /** RESULT_CACHE_TTL_SECONDS: how long a succeeded job's output may stand in for an equal job's (ADR 0015); 0 turns the cache off. */
  resultCacheTtlSeconds?: number;
  /** The pod this worker runs as in a WorkerPool: its busy count goes to the autoscaler (common/presence.ts). */
  presence?: Omit<PresenceOptions, "prefix">;
}

/**
 * Consumes the queues of the models this worker serves (common/queue.ts): one BullMQ Worker per
 * model, sharing one Redis connection (BullMQ adds one blocking connection per Worker).
 */
export class Consumer {
  private readonly redis: Redis;
  private readonly notifier: Notifier;
  private readonly cancels: CancelListener;
  private readonly presence?: PresenceReporter;
  private readonly progress: ProgressPublisher;
  private readonly workers: Worker<QueueJobData, QueueJobResult>[];
  /** Batch UID → queue job ids of its items this worker runs now, for the batch's cancel message. */
  private readonly batchItems = new Map<string, Set<string>>();
  private stopping?: Promise<void>;
  private stopRequested = false;
  private paused = false;

  constructor(private readonly opts: ConsumerOptions) {
    if (opts.models.length === 0) throw new ConfigError("no models to serve: set WORKER_MODELS");
    this.redis = createRedis(opts.redisUrl, { log: opts.log, connectionName: "pixelmill-worker" });
    this.notifier = new Notifier(this.redis, opts.prefix, opts.log);
    // A job runs in one of the Workers at most; the others answer false.
    // A batch's cancel names the batch: each of its items in hand here is canceled by its own queue job id.
    this.cancels = new CancelListener(this.redis, opts.prefix, (uid) => {
      for (const id of [uid, ...(this.batchItems.get(uid) ?? [])]) this.workers.forEach((w) => w.cancelJob(id, "Canceled"));
    }, opts.log);
    this.presence = opts.presence && new PresenceReporter(this.redis, { ...opts.presence, prefix: opts.prefix }, opts.log);
    const notTaking = () => (this.stopRequested ? "stopping" : this.paused ? "paused" : undefined);
    const resultCache = opts.resultCacheTtlSeconds ? new ResultCache(this.redis, opts.prefix, opts.resultCacheTtlSeconds) : undefined;
    this.progress = new ProgressPublisher(this.redis, opts.prefix, opts.log);
    const progress = opts.progress ?? this.progress.report;
    const run = jobProcessor({ ...opts, notTaking, canceled: (uid) => this.cancels.canceled(uid), resultCache, progress });
    const processor = this.tracked(recordBatchItems(run, this.redis, opts.prefix, opts.log));
    this.workers = opts.models.map((model) => {
      const worker = new Worker<QueueJobData, QueueJobResult>(queueName(model), processor, {
        connection: this.redis,
        prefix: opts.prefix,
        concurrency: opts.concurrency,
        autorun: false,
        ...(opts.lockDuration === undefined ? {} : { lockDuration: opts.lockDuration }),
        ...(opts.stalledInterval === undefined ? {} : { stalledInterval: opts.stalledInterval }),
      });
      worker.on("active", (job) => this.notify(job));
      worker.on("completed", (job) => {
        this.progress.forget(job.id!);
        this.notify(job);
      });
      worker.on("failed", (job) => {
        if (!job) return;
        this.progress.forget(job.id!);
        this.notify(job);
      });
      worker.on("stalled", (jobId) => opts.log.warn({ jobUid: jobId, model }, "Stalled job requeued"));
      worker.on("error", (err) => opts.log.error({ model, err: err.message }, "Queue worker error"));
      return worker;
    });
  }

  /**
   * Takes no new jobs until `resume` (the jobs in hand go on): while the store cannot be reached,
   * a job taken would only burn an attempt. A retry waits in its queue meanwhile.
   */
  async pause(): Promise<void> {
    if (this.stopRequested || this.paused) return;
    this.paused = true;
    await Promise.all(this.workers.map((w) => w.pause(true)));
    this.opts.log.warn({ models: this.opts.models }, "Taking no jobs until storage answers again");
  }

  async resume(): Promise<void> {
    if (this.stopRequested || !this.paused) return;
    this.paused = false;
    await Promise.all(this.workers.map((w) => w.resume()));
    this.opts.log.info({ models: this.opts.models }, "Taking jobs again");
  }

  /** Starts taking jobs; resolves once every queue's connection is ready. */
  async start(): Promise<void> {
    await this.cancels.start();
    for (const worker of this.workers) {
      worker.run().catch((err: Error) => this.opts.log.error({ queue: worker.name, err: err.message }, "Queue worker stopped on error"));
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.presence?.start();
  }

  /**
   * Stops taking jobs, waits for the running ones to finish and be recorded, then closes the
   * runner and Redis. Safe to call more than once; every call resolves when it is done.
   */
  stop(): Promise<void> {
    if (!this.stopRequested) this.presence?.draining();
    this.stopRequested = true;
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async drain(): Promise<void> {
    try {
      await Promise.all(this.workers.map((w) => w.close()));
      await this.notifier.flush();
      await this.cancels.stop();
      await this.presence?.stop();
      await this.opts.runner.close();
    } finally {
      await this.redis.quit().catch(() => this.redis.disconnect());
    }
  }

  /** Counts the jobs in hand for the presence entry, whatever way an attempt ends. */
  private tracked(run: JobProcessor): JobProcessor {
    const presence = this.presence;
    return async (job, token, signal) => {
      presence?.jobStarted();
      const batchUid = job.data?.batch?.uid;
      if (batchUid && job.id) this.batchItems.set(batchUid, (this.batchItems.get(batchUid) ?? new Set()).add(job.id));
      try {
        return await run(job, token, signal);
      } finally {
        presence?.jobEnded();
        const items = batchUid ? this.batchItems.get(batchUid) : undefined;
        if (items && job.id) {
          items.delete(job.id);
          if (items.size === 0) this.batchItems.delete(batchUid!);
        }
      }
    };
  }

  private notify(job: Job<QueueJobData, QueueJobResult>): void {
    const { uid, namespace, name, model, batch } = (job.data ?? {}) as Partial<QueueJobData>;
    if (typeof uid === "string" && typeof namespace === "string" && typeof name === "string") {
      const batchIndex = typeof batch?.index === "number" ? batch.index : undefined;
      this.notifier.notify({ uid, namespace, name, model: typeof model === "string" ? model : undefined, ...(batchIndex === undefined ? {} : { batchIndex }) });
    }
  }
}
