import type { Logger } from "../../common/logger.js";
import { WorkQueue } from "./workqueue.js";
import { errorMessage } from "../../common/kube/list-watch.js";
import { operatorMetrics, type OperatorMetrics } from "../../common/metrics.js";

/** The work-queue key of an object: `namespace/name`. */
export const keyOf = (o: { metadata?: { namespace?: string; name?: string } }): string => `${o.metadata?.namespace}/${o.metadata?.name}`;

export interface Reconciler {
  reconcile(key: string): Promise<{ requeueAfterMs?: number }>;
}

/**
 * Runs `workers` loops over a WorkQueue: each takes a key, reconciles it, and on error requeues
 * it with per-key exponential backoff. A reconciler that meets a spec no retry can fix says so in
 * the object's status and returns normally; a spec change brings the key back. `add` is what
 * informers and notifications call; `resync` re-adds every known key so nothing is forgotten long.
 */
export class Controller {
  readonly queue: WorkQueue;
  private loops: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private readonly metrics: OperatorMetrics;

  /** `metrics`: where pixelmill_reconcile_total and _duration_seconds go; the process's registry by default. */
  constructor(
    private readonly name: string,
    private readonly reconciler: Reconciler,
    private readonly log: Logger,
    private readonly opts: { workers?: number; resyncMs?: number; keys?: () => string[]; baseDelayMs?: number; metrics?: OperatorMetrics } = {},
  ) {
    this.queue = new WorkQueue({ baseDelayMs: opts.baseDelayMs ?? 200, maxDelayMs: 60_000 });
    this.metrics = opts.metrics ?? operatorMetrics();
  }

  add(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    for (let i = 0; i < (this.opts.workers ?? 4); i++) this.loops.push(this.work());
    if (this.opts.keys && this.opts.resyncMs) {
      const keys = this.opts.keys;
      this.resyncTimer = setInterval(() => keys().forEach((k) => this.queue.add(k)), this.opts.resyncMs);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.loops);
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      const controller = this.name;
      const timer = this.metrics.reconcileSeconds.startTimer({ controller });
      try {
        const result = await this.reconciler.reconcile(key);
        this.metrics.reconciles.inc({ controller, result: result.requeueAfterMs === undefined ? "success" : "requeue" });
        this.queue.forget(key);
        // addAfter caps the wait (MAX_ADD_AFTER_MS, 1 h): a TTL of 30 days re-checks hourly and
        // asks again for what is left, and no delay ever overflows a Node timer into a busy loop.
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        this.metrics.reconciles.inc({ controller, result: (err as { code?: number }).code === 409 ? "conflict" : "error" });
        if ((err as { code?: number }).code === 409) {
          // The cache had not yet seen our own last write: expected, and fixed by a re-read.
          const retryInMs = this.queue.addRateLimited(key);
          this.log.debug({ controller: this.name, key, retryInMs }, "Conflict, requeued");
        } else {
          const retryInMs = this.queue.addRateLimited(key);
          this.log.warn({ controller: this.name, key, err: errorMessage(err), retryInMs }, "Reconcile failed, will retry");
        }
      } finally {
        timer();
        this.queue.done(key);
      }
    }
  }
}
