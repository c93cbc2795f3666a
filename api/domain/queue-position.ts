import type { ImageJobPhase } from "../../common/job/phases.js";
import type { Logger } from "../../common/logger.js";
import type { JobRecord } from "./job-record.js";

/** Where a waiting job stands in its model's queue, read in one round trip. */
export interface QueueStanding {
  /** Jobs ahead of it: taken before it, priorities included (0: it is next). */
  ahead: number;
  /** Jobs waiting in the queue, it included. */
  waiting: number;
  /** Jobs of the model that ended (succeeded or failed for good) in the window asked for. */
  endedInWindow: number;
}

/** The queues' side (api/data/redis-queue-standings.ts). */
export interface QueueStandings {
  /**
   * Undefined when the job does not wait in the queue (not enqueued yet, a retry in its backoff,
   * taken by a worker, unknown) or when the queues cannot be read now.
   */
  standing(model: string, uid: string, endedSince: number): Promise<QueueStanding | undefined>;
}

export interface QueuePosition {
  position: number;
  waiting: number;
  /** Null when no job of the model ended in the window: the pool's pace is unknown. */
  estimatedStartAt: Date | null;
}

/** The phases in which a job may wait in its queue (Pending: the mirror may not have seen Queued yet). */
export function isWaitingForWorker(phase: ImageJobPhase): boolean {
  return phase === "Pending" || phase === "Queued";
}

/** Between reads of a followed waiting job's place (SSE and WebSocket `position` events). */
export const POSITION_INTERVAL_MS = 5000;

/** The recent throughput an estimate is drawn from: jobs ended in the last 5 minutes. */
export const THROUGHPUT_WINDOW_MS = 5 * 60_000;

export interface QueuePositionsOptions {
  standings: QueueStandings;
  log: Logger;
  now?: () => number;
  windowMs?: number;
}

/**
 * A waiting job's place in its model's queue and when it may start. Never fails: a queue that
 * cannot be read leaves the job without a position (null), and the job is still shown.
 */
export class QueuePositions {
  private readonly now: () => number;
  private readonly windowMs: number;

  constructor(private readonly opts: QueuePositionsOptions) {
    this.now = opts.now ?? Date.now;
    this.windowMs = opts.windowMs ?? THROUGHPUT_WINDOW_MS;
  }

  async of(r: Pick<JobRecord, "uid" | "model" | "phase">): Promise<QueuePosition | null> {
    if (!isWaitingForWorker(r.phase)) return null;
    const now = this.now();
    let standing: QueueStanding | undefined;
    try {
      standing = await this.opts.standings.standing(r.model, r.uid, now - this.windowMs);
    } catch (err) {
      this.opts.log.warn({ job: r.uid, model: r.model, err }, "Could not read the job's queue position");
      return null;
    }
    if (!standing) return null;
    return { position: standing.ahead, waiting: standing.waiting, estimatedStartAt: estimateStart(standing, this.windowMs, now) };
  }
}

/**
 * Now plus the time the pool took, lately, to finish as many jobs as are ahead: each job that
 * ends frees a worker for the next. Null without a recent pace: never a guess.
 */
export function estimateStart(s: Pick<QueueStanding, "ahead" | "endedInWindow">, windowMs: number, now: number): Date | null {
  if (s.endedInWindow <= 0) return null;
  return new Date(now + Math.round((s.ahead * windowMs) / s.endedInWindow));
}
