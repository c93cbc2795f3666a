import type { Redis } from "ioredis";
import type { Logger } from "../../common/logger.js";
import { NOTIFY_STREAM, NOTIFY_STREAM_MAXLEN, type JobNotification } from "../../common/queue.js";

/**
 * Appends job events to the operator's notification stream. Best effort by contract: a lost
 * entry delays a reconcile until the operator's resync, so a failed XADD is logged, not thrown.
 */
export class Notifier {
  private readonly pending = new Set<Promise<void>>();
  private readonly key: string;

  /** `redis` must have no keyPrefix: the stream lives beside BullMQ's keys, under `prefix`. */
  constructor(private readonly redis: Redis, prefix: string, private readonly log: Logger) {
    this.key = `${prefix}:${NOTIFY_STREAM}`;
  }

  notify(n: JobNotification): void {
    const sent: Promise<void> = this.redis
      .xadd(this.key, "MAXLEN", "~", NOTIFY_STREAM_MAXLEN, "*", "uid", n.uid, "namespace", n.namespace, "name", n.name, ...(n.model ? ["model", n.model] : []), ...(n.batchIndex === undefined ? [] : ["batch", String(n.batchIndex)]))
      .then(
        () => undefined,
        (err: Error) => this.log.warn({ jobUid: n.uid, err: err.message }, "Job notification not sent"),
      )
      .finally(() => this.pending.delete(sent));
    this.pending.add(sent);
  }

  /** Resolves when every notification sent so far is written (or given up). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
