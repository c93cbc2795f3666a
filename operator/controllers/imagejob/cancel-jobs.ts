import type { Redis } from "ioredis";
import type { Logger } from "../../../common/logger.js";
import { CANCEL_MARKER_TTL_SECONDS, cancelChannel, cancelMarkerKey } from "../../../common/queue.js";
import type { JobQueue } from "../../job-queue.js";
import type { BatchItems } from "./batch-items.js";

export interface CancelTarget {
  uid: string;
  model: string;
  namespace: string;
  name: string;
}

/**
 * Cancels the queue job of a deleted ImageJob (common/queue.ts): the marker first, so a worker
 * that takes the job from now on sees it; then the message, for the worker that runs it now;
 * then removal of a job no worker has taken (a finished one is kept for the record). Every
 * step is idempotent, so a second cancel of the same job (the delete event, then the sweep)
 * changes nothing.
 */
export class JobCanceler {
  constructor(
    private readonly redis: Redis, private readonly queue: JobQueue, private readonly prefix: string, private readonly log: Logger,
    /** A batch's items and how long its keys outlive it; without them, batches are canceled like single jobs. */
    private readonly batches?: { items: BatchItems; keysTtlSeconds: number; now?: () => Date },
  ) {}

  async cancel(t: CancelTarget): Promise<void> {
    await this.redis.multi()
      .set(cancelMarkerKey(this.prefix, t.uid), "1", "EX", CANCEL_MARKER_TTL_SECONDS)
      .publish(cancelChannel(this.prefix), t.uid)
      .exec();
    const inputs = this.batches && (await this.batches.items.inputs(t.uid));
    if (inputs) return this.cancelBatch(t, inputs);
    const removed = await this.queue.removeWaiting(t.model, t.uid);
    this.log.info({ job: `${t.namespace}/${t.name}`, jobUid: t.uid, model: t.model, removed }, "Canceled job");
  }

  /**
   * A batch: its waiting items leave the queue, those running stop on the marker, and every item
   * without a result is counted Canceled; the manifest then records the batch as it ended.
   */
  private async cancelBatch(t: CancelTarget, inputs: string[]): Promise<void> {
    const { items, keysTtlSeconds, now = () => new Date() } = this.batches!;
    const removed = await this.queue.removeItems(t.model, t.uid, inputs.length);
    const canceled = await items.cancelRest(t.uid, inputs, now());
    await items.writeManifest(t, inputs, now());
    await items.expire(t.uid, keysTtlSeconds);
    this.log.info({ job: `${t.namespace}/${t.name}`, jobUid: t.uid, model: t.model, removed, canceled }, "Canceled batch");
  }
}
