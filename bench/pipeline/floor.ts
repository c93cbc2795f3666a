import { randomUUID } from "node:crypto";
import { Queue, Worker, type JobsOptions } from "bullmq";
import { Redis } from "ioredis";

export interface FloorOptions {
  redisUrl: string;
  prefix: string;
  jobs: number;
  /** Concurrent producers, as the platform run's clients. */
  clients: number;
  /** Workers and each one's concurrency, as the platform's worker processes. */
  workers: number;
  concurrency: number;
  /** The job data (the platform's queue job data, about its size). */
  data: Record<string, unknown>;
  /** `add` one job per call from `clients` producers, or `addBulk` in chunks of 100. */
  mode: "add" | "addBulk";
}

export interface FloorResult {
  /** Jobs added per second (first add → last add answered). */
  addedPerS: number;
  /** Jobs done per second (first add → last completed event). */
  donePerS: number;
  seconds: number;
}

/** The options the operator enqueues with (operator/job-queue.ts): a priority for every job, attempts, backoff, kept a day. */
const JOB_OPTIONS: JobsOptions = { attempts: 3, backoff: { type: "exponential", delay: 2000 }, priority: 101, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 24 * 3600 } };

/**
 * The floor: the same number of jobs through bare BullMQ on the same Redis, with workers that do
 * nothing, no apiserver, no Postgres, no storage. What the queue alone allows on this machine.
 */
export async function bareBullmq(opts: FloorOptions): Promise<FloorResult> {
  const connections: Redis[] = [];
  const connection = () => connections[connections.push(new Redis(opts.redisUrl, { maxRetriesPerRequest: null })) - 1]!;
  const name = `floor-${opts.mode}`;
  const producer = connection();
  const queue = new Queue(name, { connection: producer, prefix: opts.prefix });
  let done = 0;
  let lastDone = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const workers = Array.from({ length: opts.workers }, () => {
    const w = new Worker(name, () => Promise.resolve(undefined), { connection: connection(), prefix: opts.prefix, concurrency: opts.concurrency });
    w.on("completed", () => {
      lastDone = performance.now();
      if (++done === opts.jobs) allDone();
    });
    return w;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const start = performance.now();
  if (opts.mode === "add") {
    let next = 0;
    await Promise.all(Array.from({ length: opts.clients }, async () => {
      while (next < opts.jobs) {
        next++;
        await queue.add("image", { ...opts.data, uid: randomUUID() }, { ...JOB_OPTIONS, jobId: randomUUID() });
      }
    }));
  } else {
    for (let i = 0; i < opts.jobs; i += 100) {
      const n = Math.min(100, opts.jobs - i);
      await queue.addBulk(Array.from({ length: n }, () => ({ name: "image", data: { ...opts.data, uid: randomUUID() }, opts: { ...JOB_OPTIONS, jobId: randomUUID() } })));
    }
  }
  const added = performance.now();
  await finished;
  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  connections.forEach((c) => c.disconnect());
  const seconds = (lastDone - start) / 1000;
  return { addedPerS: opts.jobs / ((added - start) / 1000), donePerS: opts.jobs / seconds, seconds };
}
