import type { Logger } from "../../common/logger.js";
import { systemClock, type Clock } from "../../common/clock.js";
import { errorMessage } from "../../common/kube/list-watch.js";

/** The very state of an ImageJob the mirror committed: a delete with these preconditions removes nothing newer. */
export interface DeleteTarget {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
}

/** deleted; gone (404: deleted already); changed (409: a new object by that name, or a state the mirror has yet to see). */
export type DeleteOutcome = "deleted" | "gone" | "changed";

/** The apiserver's delete of one ImageJob with UID and resourceVersion preconditions (api/kube/kube-job-deleter.ts). */
export interface JobDeletePort {
  deleteJob(target: DeleteTarget): Promise<DeleteOutcome>;
}

export interface FinishedJobDeleterOptions {
  port: JobDeletePort;
  log: Logger;
  /** MIRROR_DELETE_FINISHED_AFTER_SECONDS, in ms: how long after it finished a recorded job is deleted. */
  delayMs: number;
  /**
   * How much longer a replica waits that did not write the job's end itself: the replica that did
   * deletes it (and every replica's watch then forgets it), so one delete is sent per job, and
   * the others delete it only when that replica went away first. 30 s.
   */
  backupDelayMs?: number;
  /** Deletes in flight at most: a relist after an outage may find thousands due at once. 8. */
  concurrency?: number;
  /** After a failed delete (the apiserver away), the next try. 5 s. */
  retryMs?: number;
  /**
   * Whether jobs of this namespace are this API's (a tenant's namespace): another installation's
   * jobs, or kubectl's in a namespace of no tenant, are left to their operator's TTL, since their
   * history is not kept here. Absent: every namespace.
   */
  owns?: (namespace: string) => Promise<boolean>;
  clock?: Clock;
}

interface Pending {
  target: DeleteTarget;
  at: number;
}

/** Timers fire no closer together than this: deletes are not worth a wake-up each. */
const TICK_MS = 250;

/**
 * Deletes finished ImageJobs whose end the mirror has committed to Postgres, each once its delay
 * has passed, so etcd holds finished jobs for seconds, not hours (ADR 0018). Keyed by UID: a
 * newer state of the same job replaces the pending one, and a job seen deleted is forgotten.
 */
export class FinishedJobDeleter {
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly clock: Clock;
  private timer: { handle: unknown; at: number } | undefined;
  private stopped = false;

  constructor(private readonly opts: FinishedJobDeleterOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Jobs waiting for their delete, and those being deleted. */
  get size(): number {
    return this.pending.size + this.inFlight.size;
  }

  /**
   * Deletes `target` at its finish + the delay (at once when that has passed), or later still
   * when `wroteEnd` is false: another replica wrote the end, and deletes it first.
   */
  schedule(target: DeleteTarget, finishedAt: Date | null, wroteEnd: boolean): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const from = finishedAt && Number.isFinite(finishedAt.getTime()) ? Math.min(finishedAt.getTime(), now) : now;
    let at = Math.max(now, from + this.opts.delayMs + (wroteEnd ? 0 : (this.opts.backupDelayMs ?? 30_000)));
    const before = this.pending.get(target.uid);
    if (before) at = Math.min(at, before.at);
    this.pending.set(target.uid, { target, at });
    this.pump();
  }

  /** The job is gone (its DELETED event): nothing to do for it any more. */
  forget(uid: string): void {
    this.pending.delete(uid);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
    this.pending.clear();
    await Promise.all(this.inFlight.values());
  }

  /** Starts the deletes that are due, as many as may run, and arms the timer for the next. */
  private pump(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const limit = this.opts.concurrency ?? 8;
    let next = Infinity;
    for (const [uid, p] of this.pending) {
      if (p.at > now) {
        next = Math.min(next, p.at);
      } else if (this.inFlight.size < limit && !this.inFlight.has(uid)) {
        this.pending.delete(uid);
        this.start(p.target);
      }
    }
    // Due ones left over wait for a delete to finish, which pumps again.
    if (next !== Infinity) this.arm(next);
  }

  private start(target: DeleteTarget): void {
    const run = this.delete(target).finally(() => {
      this.inFlight.delete(target.uid);
      this.pump();
    });
    this.inFlight.set(target.uid, run);
  }

  private async delete(target: DeleteTarget): Promise<void> {
    const job = `${target.namespace}/${target.name}`;
    try {
      if (this.opts.owns && !(await this.opts.owns(target.namespace))) {
        this.opts.log.debug({ job, jobUid: target.uid }, "Finished job is of no tenant here, left to its TTL");
        return;
      }
      const outcome = await this.opts.port.deleteJob(target);
      this.opts.log.debug({ job, jobUid: target.uid, outcome }, "Deleted finished job");
    } catch (err) {
      this.opts.log.warn({ job, jobUid: target.uid, err: errorMessage(err) }, "Could not delete finished job; retrying");
      if (!this.stopped && !this.pending.has(target.uid)) this.pending.set(target.uid, { target, at: this.clock.now() + (this.opts.retryMs ?? 5000) });
    }
  }

  private arm(at: number): void {
    if (this.timer && this.timer.at <= at) return;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    const now = this.clock.now();
    const fireAt = Math.max(at, now + TICK_MS);
    const handle = this.clock.setTimeout(() => {
      if (this.timer?.handle !== handle) return;
      this.timer = undefined;
      this.pump();
    }, fireAt - now);
    this.timer = { handle, at: fireAt };
  }
}
