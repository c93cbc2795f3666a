import type { ImageJobOutput } from "./crd-types.js";
import { outputsPrefix } from "./job/input-access.js";

/**
 * The batch contract (docs/batch.md, ADR 0028) between the operator, the workers and the API.
 * While a batch runs, Redis is its item store; once it ends, the manifest in storage is the record
 * and the keys below expire (BATCH_KEYS_TTL_SECONDS).
 *
 * - `<prefix>:batch:<uid>:inputs`  hash  index → input URI (the operator, once, at expansion)
 * - `<prefix>:batch:<uid>:results` hash  index → BatchItemResult JSON (the worker, when an item finishes for good)
 * - `<prefix>:batch:<uid>:counts`  hash  succeeded / failed / running / canceled (HINCRBY, with the result in one MULTI)
 */
export type BatchKeyType = "inputs" | "results" | "counts";

export function batchKey(prefix: string, uid: string, type: BatchKeyType): string {
  return `${prefix}:batch:${uid}:${type}`;
}

/** The counters of the counts hash. */
export const BATCH_COUNT_FIELDS = ["succeeded", "failed", "running", "canceled"] as const;
export type BatchCountField = (typeof BATCH_COUNT_FIELDS)[number];

/** One queue entry per item: deterministic, so re-adding after an operator restart is a no-op (BullMQ ids may not hold ':'). */
export function batchItemJobId(uid: string, index: number): string {
  return `${uid}-${index}`;
}

/** Queue job data of an item (QueueJobData.batch). */
export interface BatchItemRef {
  uid: string;
  index: number;
  total: number;
}

export type BatchItemPhase = "Succeeded" | "Failed" | "Canceled";

/** One line of the manifest, and one value of the results hash. */
export interface BatchItemResult {
  index: number;
  input: string;
  phase: BatchItemPhase;
  output?: ImageJobOutput;
  error?: { reason: string; message: string };
  attempts: number;
  /** RFC 3339 */
  finishedAt: string;
}

/** Where a batch's files go: its item outputs under `items/`, and the manifest. */
export function batchOutputsDir(namespace: string, name: string, uid: string): string {
  return `${outputsPrefix(namespace)}${name}/${uid}/`;
}

/** An item attempt's output key without its extension (worker/job-data.ts outputKey adds it). */
export function batchItemOutputBase(namespace: string, name: string, uid: string, index: number, attempt: number): string {
  return `${batchOutputsDir(namespace, name, uid)}items/${index}-${attempt}`;
}

export function batchManifestKey(namespace: string, name: string, uid: string): string {
  return `${batchOutputsDir(namespace, name, uid)}manifest.jsonl`;
}

export const BATCH_MANIFEST_CONTENT_TYPE = "application/x-ndjson";

/** The default glob of a prefix batch: every object under the prefix. */
export const DEFAULT_BATCH_GLOB = "**/*";

/** Defaults of the operator's BATCH_* settings (common/config.ts). */
export const DEFAULT_BATCH_MAX_ITEMS = 10_000;
export const DEFAULT_BATCH_STATUS_INTERVAL_MS = 5000;
export const DEFAULT_BATCH_KEYS_TTL_SECONDS = 7 * 24 * 3600;

/** A results-hash value, or undefined when it is not one (a newer or broken writer). */
export function parseBatchItemResult(json: string): BatchItemResult | undefined {
  try {
    const value = JSON.parse(json) as Partial<BatchItemResult>;
    return typeof value.index === "number" && typeof value.input === "string" && typeof value.phase === "string" ? (value as BatchItemResult) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records an item's end, once: the result goes in with HSETNX and only a first write counts it,
 * so a retried record (a worker's, or the operator's cancel racing it) never counts twice.
 * `running` moves by runningDelta either way (-1 for an attempt that was running, 0 otherwise).
 * Keys: results, counts; args: index, result JSON, phase counter, running delta. Returns 1 when recorded.
 */
export const RECORD_ITEM_SCRIPT = `
local recorded = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if recorded == 1 then redis.call('HINCRBY', KEYS[2], ARGV[3], 1) end
if ARGV[4] ~= '0' then redis.call('HINCRBY', KEYS[2], 'running', tonumber(ARGV[4])) end
return recorded`;

/** The counter of the counts hash an item's phase adds to. */
export function countFieldOf(phase: BatchItemPhase): BatchCountField {
  return phase === "Succeeded" ? "succeeded" : phase === "Failed" ? "failed" : "canceled";
}

/** EVAL arguments of RECORD_ITEM_SCRIPT for `result` (ioredis: redis.eval(...recordItemArgs(...))). */
export function recordItemArgs(prefix: string, uid: string, result: BatchItemResult, runningDelta: number): [string, number, ...string[]] {
  return [RECORD_ITEM_SCRIPT, 2, batchKey(prefix, uid, "results"), batchKey(prefix, uid, "counts"), String(result.index), JSON.stringify(result), countFieldOf(result.phase), String(runningDelta)];
}
