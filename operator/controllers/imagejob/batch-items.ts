import type { Redis } from "ioredis";
import {
  BATCH_MANIFEST_CONTENT_TYPE, batchKey, batchManifestKey, parseBatchItemResult, recordItemArgs, type BatchItemResult,
} from "../../../common/batch.js";
import type { ImageJobBatchStatus, ImageJobOutput, JobUsage } from "../../../common/crd-types.js";
import type { ObjectStore } from "../../../common/storage/index.js";

const CHUNK = 1000;

/** Who a batch is: its UID, and the namespace and name its files live under. */
export interface BatchRef {
  uid: string;
  namespace: string;
  name: string;
}

/** The operator's side of a batch's Redis keys (common/batch.ts) and its manifest. */
export class BatchItems {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly store: ObjectStore) {}

  /** The inputs saved by an earlier expansion, in index order; undefined when none was saved. */
  async inputs(uid: string): Promise<string[] | undefined> {
    const hash = await this.redis.hgetall(batchKey(this.prefix, uid, "inputs"));
    const entries = Object.entries(hash);
    if (entries.length === 0) return undefined;
    const inputs: string[] = new Array<string>(entries.length);
    for (const [index, uri] of entries) inputs[Number(index)] = uri;
    return inputs;
  }

  /** Saves the inputs whole or not at all (written aside, then renamed): a restart mid-way leaves none. */
  async saveInputs(uid: string, inputs: readonly string[]): Promise<void> {
    const key = batchKey(this.prefix, uid, "inputs");
    const pending = `${key}:pending`;
    await this.redis.del(pending);
    for (let i = 0; i < inputs.length; i += CHUNK) {
      const fields = inputs.slice(i, i + CHUNK).flatMap((uri, j) => [String(i + j), uri]);
      await this.redis.hset(pending, ...fields);
    }
    await this.redis.rename(pending, key);
  }

  async counts(uid: string, total: number): Promise<ImageJobBatchStatus> {
    const raw = await this.redis.hgetall(batchKey(this.prefix, uid, "counts"));
    const n = (field: string) => Math.max(0, Number(raw[field] ?? 0) || 0);
    return { total, succeeded: n("succeeded"), failed: n("failed"), running: n("running"), canceled: n("canceled") };
  }

  /** Counts as Canceled every item without a result yet (a deleted batch): the worker's late record then counts nothing. */
  async cancelRest(uid: string, inputs: readonly string[], now: Date): Promise<number> {
    const done = new Set(await this.redis.hkeys(batchKey(this.prefix, uid, "results")));
    let canceled = 0;
    for (let i = 0; i < inputs.length; i += CHUNK) {
      const pipeline = this.redis.pipeline();
      for (let index = i; index < Math.min(i + CHUNK, inputs.length); index++) {
        if (done.has(String(index))) continue;
        pipeline.eval(...recordItemArgs(this.prefix, uid, canceledItem(index, inputs[index]!, now), 0));
        canceled++;
      }
      await pipeline.exec();
    }
    return canceled;
  }

  /**
   * Writes the manifest, one result per line in index order (an item without one, which only a
   * lost record leaves, is written Canceled), and returns it as the batch's status.output.
   */
  /**
   * Writes the manifest; the output it returns carries the items' usage summed (run and GPU
   * seconds; gpus the most any item's pool had), so the usage report counts a batch's work.
   */
  async writeManifest(batch: BatchRef, inputs: readonly string[], now: Date): Promise<Required<Pick<ImageJobOutput, "uri" | "contentType" | "bytes">> & Pick<ImageJobOutput, "usage">> {
    const hash = await this.redis.hgetall(batchKey(this.prefix, batch.uid, "results"));
    const used: JobUsage[] = [];
    const lines = inputs.map((input, index) => {
      const result = hash[String(index)] !== undefined ? parseBatchItemResult(hash[String(index)]!) : undefined;
      if (result?.output?.usage) used.push(result.output.usage);
      return JSON.stringify(result ?? canceledItem(index, input, now));
    });
    const body = Buffer.from(lines.length ? `${lines.join("\n")}\n` : "");
    const key = batchManifestKey(batch.namespace, batch.name, batch.uid);
    await this.store.put(key, body, { contentType: BATCH_MANIFEST_CONTENT_TYPE });
    return { uri: this.store.uri(key), contentType: BATCH_MANIFEST_CONTENT_TYPE, bytes: body.length, ...(used.length ? { usage: sumUsage(used) } : {}) };
  }

  /** The keys outlive the batch by ttlSeconds, for the API's item listing; the manifest is the record. */
  async expire(uid: string, ttlSeconds: number): Promise<void> {
    await this.redis.multi()
      .expire(batchKey(this.prefix, uid, "inputs"), ttlSeconds)
      .expire(batchKey(this.prefix, uid, "results"), ttlSeconds)
      .expire(batchKey(this.prefix, uid, "counts"), ttlSeconds)
      .exec();
  }
}

/** An item that never ran to an end of its own: the batch was deleted first (or its record was lost). */
function canceledItem(index: number, input: string, now: Date): BatchItemResult {
  return { index, input, phase: "Canceled", attempts: 0, finishedAt: now.toISOString() };
}

/** Run and GPU seconds added up (to the millisecond, as workers measure); gpus the most of any. */
export function sumUsage(usages: readonly JobUsage[]): JobUsage {
  const ms = (pick: (u: JobUsage) => number) => Math.round(usages.reduce((sum, u) => sum + pick(u), 0) * 1000) / 1000;
  return { runSeconds: ms((u) => u.runSeconds), gpus: Math.max(0, ...usages.map((u) => u.gpus)), gpuSeconds: ms((u) => u.gpuSeconds) };
}
