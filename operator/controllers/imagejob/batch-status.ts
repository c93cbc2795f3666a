import { rfc3339Seconds as seconds, setCondition } from "../../../common/conditions.js";
import type { ImageJob, ImageJobBatchStatus, ImageJobOutput, ImageJobStatus } from "../../../common/crd-types.js";

/**
 * The status of a batch ImageJob from its item counts: pure, so the phase rules are tested without
 * a cluster. Counts, not items: status never lists items (docs/batch.md).
 */
export function finishedItems(c: ImageJobBatchStatus): number {
  return c.succeeded + c.failed + (c.canceled ?? 0);
}

export function isBatchDone(c: ImageJobBatchStatus): boolean {
  return finishedItems(c) >= c.total;
}

/** Queued until the first item starts, then Running; the counts as they are. */
export function batchProgressStatus(job: ImageJob, counts: ImageJobBatchStatus, now: Date): ImageJobStatus {
  const current = job.status ?? {};
  const generation = job.metadata.generation;
  const started = counts.running > 0 || finishedItems(counts) > 0 || current.phase === "Running";
  const accepted = { type: "Accepted", status: "True" as const, reason: "Enqueued", message: `${counts.total} items queued for workers`, observedGeneration: generation };
  return {
    ...current,
    observedGeneration: generation,
    phase: started ? "Running" : "Queued",
    queuedAt: current.queuedAt ?? seconds(now),
    ...(started ? { startedAt: current.startedAt ?? seconds(now) } : {}),
    batch: stripZeroCanceled(counts),
    conditions: setCondition(current.conditions ?? [], accepted, now),
  };
}

/**
 * The end of a batch: Succeeded when any item succeeded (with ItemsFailed True when some failed),
 * Failed when none did. `manifest` becomes status.output.
 */
export function batchEndStatus(job: ImageJob, counts: ImageJobBatchStatus, manifest: ImageJobOutput, now: Date): ImageJobStatus {
  const current = job.status ?? {};
  const generation = job.metadata.generation;
  const final = { ...counts, running: 0 };
  let conditions = current.conditions ?? [];
  if (final.failed > 0) {
    conditions = setCondition(conditions, { type: "ItemsFailed", status: "True", reason: "ItemsFailed", message: `${final.failed} of ${final.total} items failed`, observedGeneration: generation }, now);
  }
  const base = { ...current, observedGeneration: generation, batch: stripZeroCanceled(final), output: manifest, startedAt: current.startedAt ?? seconds(now), queuedAt: current.queuedAt ?? seconds(now), finishedAt: seconds(now) };
  if (final.succeeded > 0) {
    conditions = setCondition(conditions, { type: "Complete", status: "True", reason: "Succeeded", message: `${final.succeeded} of ${final.total} items succeeded`, observedGeneration: generation }, now);
    return { ...base, phase: "Succeeded", reason: undefined, message: undefined, conditions };
  }
  const message = `none of the ${final.total} items succeeded (${final.failed} failed${final.canceled ? `, ${final.canceled} canceled` : ""}); see the manifest`;
  conditions = setCondition(conditions, { type: "Failed", status: "True", reason: "ItemsFailed", message, observedGeneration: generation }, now);
  return { ...base, phase: "Failed", reason: "ItemsFailed", message, conditions };
}

/** More items than BATCH_MAX_ITEMS: failed before any item runs. */
export function batchTooLargeStatus(job: ImageJob, message: string, now: Date): ImageJobStatus {
  const generation = job.metadata.generation;
  let conditions = setCondition(job.status?.conditions ?? [], { type: "Accepted", status: "False", reason: "BatchTooLarge", message, observedGeneration: generation }, now);
  conditions = setCondition(conditions, { type: "Failed", status: "True", reason: "BatchTooLarge", message, observedGeneration: generation }, now);
  return { ...job.status, phase: "Failed", attempts: 0, reason: "BatchTooLarge", message, finishedAt: seconds(now), observedGeneration: generation, conditions };
}

function stripZeroCanceled(c: ImageJobBatchStatus): ImageJobBatchStatus {
  const { canceled, ...rest } = c;
  return canceled ? { ...rest, canceled } : rest;
}
