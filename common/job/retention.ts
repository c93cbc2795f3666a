import type { ImageJob } from "../crd-types.js";

/**
 * Who deletes a finished ImageJob, in one home (ADR 0018). A job that sets
 * `spec.ttlSecondsAfterFinished` is the operator's to delete, that long after it finished. One
 * that does not is the API's mirror's to delete, shortly after it committed the job's end to
 * Postgres; the operator deletes it only after OPERATOR_FALLBACK_TTL_SECONDS, for clusters where
 * no API mirrors the jobs (kubectl only) or where the API has been away that long.
 */

/** The operator's TTL for a finished job that names none: long, as it is the fallback to the mirror. */
export const OPERATOR_FALLBACK_TTL_SECONDS = 3600;

/** MIRROR_DELETE_FINISHED_AFTER_SECONDS when unset: how long a finished job stays readable with kubectl. */
export const DEFAULT_MIRROR_DELETE_AFTER_SECONDS = 30;

/** True when the job keeps its own TTL, so the mirror leaves its deletion to the operator. */
export function hasOwnTtl(job: Pick<ImageJob, "spec">): boolean {
  return job.spec.ttlSecondsAfterFinished !== undefined;
}

/** Seconds after finishing that the operator deletes the job. */
export function operatorTtlSeconds(job: Pick<ImageJob, "spec">): number {
  return job.spec.ttlSecondsAfterFinished ?? OPERATOR_FALLBACK_TTL_SECONDS;
}
