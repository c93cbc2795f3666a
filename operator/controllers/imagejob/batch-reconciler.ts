import { isDeepStrictEqual } from "node:util";
import type { ImageJob, ImageJobStatus } from "../../../common/crd-types.js";
import type { BucketRule } from "../../../common/job/input-grants.js";
import type { Logger } from "../../../common/logger.js";
import type { QueueJobData } from "../../../common/queue.js";
import type { ObjectStore } from "../../../common/storage/index.js";
import type { EnqueueOptions, JobQueue } from "../../job-queue.js";
import { expandBatch } from "./batch-expand.js";
import type { BatchItems } from "./batch-items.js";
import { batchEndStatus, batchProgressStatus, batchTooLargeStatus, isBatchDone } from "./batch-status.js";
import { clean, invalidSpecStatus } from "./imagejob-status.js";

export interface BatchReconcilerDeps {
  items: BatchItems;
  queue: JobQueue;
  /** The platform's store, and the store of any `s3://` bucket, for listing prefixes. */
  store: ObjectStore;
  bucketStore: (bucket: string) => ObjectStore;
  /** INPUT_BUCKETS (allowedInputBuckets) and storeRoot of the platform's store. */
  bucketRule: Omit<BucketRule, "granted">;
  maxItems: number;
  statusIntervalMs: number;
  keysTtlSeconds: number;
  log: Logger;
  now: () => Date;
  onEnqueued?: (model: string) => void;
}

export type StatusWrite = (status: ImageJobStatus, event?: { reason: string; message: string }) => Promise<void>;

/**
 * The batch path of an ImageJob (docs/batch.md, ADR 0028): expand once (the inputs hash is
 * written whole or not at all, queue ids are deterministic, so a restart repeats nothing), then
 * mirror the item counts into status at most every statusIntervalMs, and at the end write the
 * manifest and the final status. Items never cost an apiserver write of their own.
 */
export class BatchReconciler {
  /** Per batch UID, when its status was last written (ms): the cadence of count updates. */
  private readonly lastWrite = new Map<string, number>();

  constructor(private readonly deps: BatchReconcilerDeps) {}

  /** `item`: the queue data every item shares (model, params, output, grants); `granted`: the namespace's buckets. */
  async reconcile(job: ImageJob, item: QueueJobData, enqueue: EnqueueOptions, granted: string[] | undefined, write: StatusWrite): Promise<{ requeueAfterMs?: number }> {
    const { items, now } = this.deps;
    const uid = job.metadata.uid!;
    if (!job.status?.batch) return this.expand(job, item, enqueue, granted, write);
    const counts = await items.counts(uid, job.status.batch.total);
    if (isBatchDone(counts)) {
      const inputs = (await items.inputs(uid)) ?? [];
      const manifest = await items.writeManifest({ uid, namespace: job.metadata.namespace!, name: job.metadata.name! }, inputs, now());
      await write(batchEndStatus(job, counts, manifest, now()));
      await items.expire(uid, this.deps.keysTtlSeconds);
      this.lastWrite.delete(uid);
      this.deps.log.info({ job: `${job.metadata.namespace}/${job.metadata.name}`, jobUid: uid, ...counts }, "Batch finished");
      return {};
    }
    const next = batchProgressStatus(job, counts, now());
    if (isDeepStrictEqual(clean(next), clean(job.status))) return {};
    const since = now().getTime() - (this.lastWrite.get(uid) ?? 0);
    if (since < this.deps.statusIntervalMs) return { requeueAfterMs: this.deps.statusIntervalMs - since };
    await this.written(uid, write(next));
    return {};
  }

  /** The batch is gone (deleted, or finished and forgotten). */
  forget(uid: string): void {
    this.lastWrite.delete(uid);
  }

  private async expand(job: ImageJob, item: QueueJobData, enqueue: EnqueueOptions, granted: string[] | undefined, write: StatusWrite): Promise<{ requeueAfterMs?: number }> {
    const { items, now, log } = this.deps;
    const uid = job.metadata.uid!;
    let inputs = await items.inputs(uid);
    if (!inputs) {
      const rule = { ...this.deps.bucketRule, granted };
      const expansion = await expandBatch(job.spec.batch!, job.metadata.namespace!, { store: this.deps.store, bucketStore: this.deps.bucketStore, rule, maxItems: this.deps.maxItems });
      if ("invalid" in expansion) {
        await write(invalidSpecStatus(job, expansion.invalid, now()), { reason: "InvalidSpec", message: expansion.invalid });
        return {};
      }
      if ("tooLarge" in expansion) {
        await write(batchTooLargeStatus(job, expansion.tooLarge, now()), { reason: "BatchTooLarge", message: expansion.tooLarge });
        return {};
      }
      inputs = expansion.inputs;
      await items.saveInputs(uid, inputs);
    }
    const total = inputs.length;
    await this.deps.queue.enqueueItems(inputs.map((inputUri, index) => ({ ...item, inputUri, batch: { uid, index, total } })), enqueue);
    log.info({ job: `${job.metadata.namespace}/${job.metadata.name}`, jobUid: uid, model: job.spec.model, total }, "Enqueued batch");
    this.deps.onEnqueued?.(job.spec.model);
    await this.written(uid, write(batchProgressStatus(job, await items.counts(uid, total), now())));
    return {};
  }

  private async written(uid: string, write: Promise<void>): Promise<void> {
    await write;
    this.lastWrite.set(uid, this.deps.now().getTime());
  }
}
