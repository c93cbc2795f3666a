import type { Redis } from "ioredis";
import type { Logger } from "../../common/logger.js";
import { PRESENCE_INTERVAL_MS, PRESENCE_TTL_MS, presenceKey, type WorkerPresence } from "../../common/presence.js";

export interface PresenceOptions {
  prefix: string;
  namespace: string;
  pool: string;
  pod: string;
}

/**
 * This worker's entry in its pool's presence hash (common/presence.ts): busy count, last job
 * finished, and whether it still takes jobs. Best effort: a failed write is logged and the next
 * change or tick writes again; the operator treats a silent entry as gone after PRESENCE_TTL_MS.
 */
export class PresenceReporter {
  private readonly key: string;
  private busy = 0;
  private lastDone?: number;
  private accepting = true;
  private timer?: NodeJS.Timeout;
  private failing = false;

  constructor(private readonly redis: Redis, private readonly opts: PresenceOptions, private readonly log: Logger) {
    this.key = presenceKey(opts.prefix, opts.namespace, opts.pool);
  }

  start(): void {
    this.write();
    this.timer = setInterval(() => this.write(), PRESENCE_INTERVAL_MS);
    this.timer.unref();
  }

  jobStarted(): void {
    this.busy++;
    this.write();
  }

  jobEnded(): void {
    this.busy = Math.max(0, this.busy - 1);
    this.lastDone = Date.now();
    this.write();
  }

  /** Draining: still busy with what it holds, but takes nothing new. */
  draining(): void {
    this.accepting = false;
    this.write();
  }

  /** Removes the entry: the worker is gone. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(this.key, this.opts.pod).catch(() => undefined);
  }

  private write(): void {
    const entry: WorkerPresence = { busy: this.busy, at: Date.now(), lastDone: this.lastDone, accepting: this.accepting };
    this.redis.multi().hset(this.key, this.opts.pod, JSON.stringify(entry)).pexpire(this.key, PRESENCE_TTL_MS * 4).exec().then(
      () => {
        if (this.failing) this.log.info("Presence reporting restored");
        this.failing = false;
      },
      (err: Error) => {
        if (!this.failing) this.log.warn({ err: err.message }, "Presence not reported");
        this.failing = true;
      },
    );
  }
}
