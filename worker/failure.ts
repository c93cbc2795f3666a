import { UnrecoverableError } from "bullmq";
import { JobFailure } from "../common/errors.js";
import { FAILURE_REASONS, formatFailure, isRetried } from "../common/job/failure-reasons.js";

/** Any error of an attempt as a JobFailure; one the worker cannot name is an InferenceError. */
export function asJobFailure(err: unknown): JobFailure {
  if (err instanceof JobFailure && Object.hasOwn(FAILURE_REASONS, err.reason)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new JobFailure("InferenceError", message || "the attempt failed without a message", { cause: err });
}

/**
 * The error BullMQ records as the job's failedReason (`Reason: message`, common/job/failure-reasons.ts).
 * Unrecoverable reasons become UnrecoverableError, so BullMQ spends no more attempts on them.
 */
export function toQueueError(failure: JobFailure): Error {
  const message = formatFailure(failure.reason, failure.message);
  return isRetried(failure.reason) ? new Error(message) : new UnrecoverableError(message);
}
