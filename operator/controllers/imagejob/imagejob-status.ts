import { rfc3339Seconds as seconds, setCondition } from "../../../common/conditions.js";
import type { ImageJob, ImageJobStatus } from "../../../common/crd-types.js";
import { parseFailure } from "../../../common/job/failure-reasons.js";
import type { QueueJobView } from "../../job-queue.js";

/**
 * The status an ImageJob should have, given how its queue job stands: pure, so the phase rules
 * are tested without a cluster. Times that were already set are kept, so a repeated reconcile
 * computes the same status and writes nothing.
 */
/** The reason a waiting job shows while no WorkerPool lists its model. */
export const NO_WORKER_POOL = "NoWorkerPool";

/**
 * `unserved`: set while no WorkerPool lists the job's model, the message a waiting job shows
 * (reason NoWorkerPool) instead of waiting in silence; a failed attempt's reason still comes first.
 */
export function statusFromQueue(job: ImageJob, q: QueueJobView, now: Date, unserved?: string): ImageJobStatus {
  const current = job.status ?? {};
  const generation = job.metadata.generation;
  const iso = (ms: number | undefined) => (ms ? seconds(new Date(ms)) : undefined);
  const base: ImageJobStatus = {
    ...current,
    observedGeneration: generation,
    attempts: q.attemptsStarted,
    queuedAt: current.queuedAt ?? seconds(now),
  };
  const accepted = { type: "Accepted", status: "True" as const, reason: "Enqueued", message: "Queued for a worker", observedGeneration: generation };
  let conditions = setCondition(current.conditions ?? [], accepted, now);
  const failure = q.failedReason ? parseFailure(q.failedReason) : undefined;
  switch (q.state) {
    case "waiting":
    case "delayed": {
      // A retry after a failed attempt waits here too; the last failure stays visible.
      const why = failure ?? (unserved ? { reason: NO_WORKER_POOL, message: unserved } : undefined);
      return { ...base, phase: "Queued", reason: why?.reason, message: why?.message, conditions };
    }
    case "active": {
      const waitedUnserved = current.reason === NO_WORKER_POOL;
      return {
        ...base, phase: "Running", startedAt: current.startedAt ?? iso(q.processedOn) ?? seconds(now), conditions,
        ...(waitedUnserved ? { reason: undefined, message: undefined } : {}),
      };
    }
    case "completed":
      conditions = setCondition(conditions, { type: "Complete", status: "True", reason: "Succeeded", message: "Output written", observedGeneration: generation }, now);
      return {
        ...base, phase: "Succeeded", reason: undefined, message: undefined, output: q.result,
        startedAt: current.startedAt ?? iso(q.processedOn), finishedAt: iso(q.finishedOn) ?? seconds(now), conditions,
      };
    case "failed": {
      const { reason, message } = failure ?? { reason: "WorkerError", message: "failed" };
      conditions = setCondition(conditions, { type: "Failed", status: "True", reason, message, observedGeneration: generation }, now);
      return { ...base, phase: "Failed", reason, message, startedAt: current.startedAt ?? iso(q.processedOn), finishedAt: iso(q.finishedOn) ?? seconds(now), conditions };
    }
  }
}

/** Failed before reaching the queue: the spec cannot work (no such model, scheme not allowed). */
export function invalidSpecStatus(job: ImageJob, message: string, now: Date): ImageJobStatus {
  const generation = job.metadata.generation;
  let conditions = setCondition(job.status?.conditions ?? [], { type: "Accepted", status: "False", reason: "InvalidSpec", message, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { type: "Failed", status: "True", reason: "InvalidSpec", message, observedGeneration: generation }, now);
  return { ...job.status, phase: "Failed", attempts: 0, reason: "InvalidSpec", message, finishedAt: seconds(now), observedGeneration: generation, conditions };
}

/** Failed without starting: still waiting when spec.startDeadlineSeconds ran out. */
export function deadlineExceededStatus(job: ImageJob, now: Date): ImageJobStatus {
  const generation = job.metadata.generation;
  const message = `not started within startDeadlineSeconds (${job.spec.startDeadlineSeconds} s)`;
  const conditions = setCondition(job.status?.conditions ?? [], { type: "Failed", status: "True", reason: "DeadlineExceeded", message, observedGeneration: generation }, now);
  return {
    ...job.status, phase: "Failed", attempts: 0, reason: "DeadlineExceeded", message, queuedAt: job.status?.queuedAt ?? seconds(now),
    finishedAt: seconds(now), observedGeneration: generation, conditions,
  };
}

/**
 * Ms until the start deadline of a job not yet started, 0 once passed; undefined when it has
 * none. A retry waiting out its backoff has started (attemptsStarted > 0): no deadline then.
 */
export function msToStartDeadline(job: ImageJob, attemptsStarted: number, now: Date): number | undefined {
  const seconds = job.spec.startDeadlineSeconds;
  // A Date in the client's types, a string in what the informer decodes.
  const created = new Date(job.metadata.creationTimestamp ?? Number.NaN).getTime();
  if (!seconds || attemptsStarted > 0 || !Number.isFinite(created)) return undefined;
  return Math.max(0, created + seconds * 1000 - now.getTime());
}

/** Drops undefined members, so a status compares equal to its JSON round trip from the apiserver. */
export function clean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
