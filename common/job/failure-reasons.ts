/**
 * Why a job failed: the reason a worker reports (the prefix of BullMQ's failedReason,
 * `Reason: message`), which becomes the ImageJob's status.reason, and whether it is retried.
 */
export const FAILURE_REASONS = {
  InputNotFound: { retry: false },
  /** The input's URL points where workers may not go: a private or loopback address, a bucket not in INPUT_BUCKETS. */
  InputForbidden: { retry: false },
  InputTooLarge: { retry: false },
  InvalidImage: { retry: false },
  InvalidParams: { retry: false },
  ModelUnavailable: { retry: true },
  InferenceError: { retry: true },
  StorageError: { retry: true },
  Timeout: { retry: true },
  /** The ImageJob was deleted (DELETE /v1/jobs/:id or kubectl delete): the attempt stops and writes nothing. */
  Canceled: { retry: false },
} as const;

export type FailureReason = keyof typeof FAILURE_REASONS;

/**
 * Reasons the operator sets without a worker: the spec cannot work (no such model, input scheme
 * not allowed), or the job waited past spec.startDeadlineSeconds. Neither is retried.
 */
export type OperatorFailureReason = "InvalidSpec" | "DeadlineExceeded" | "BatchTooLarge";

const OPERATOR_FAILURE_REASONS: readonly OperatorFailureReason[] = ["InvalidSpec", "DeadlineExceeded", "BatchTooLarge"];
/** WorkerError: a failure without a reason of ours (parseFailure's default). */
const KNOWN_REASONS: ReadonlySet<string> = new Set([...Object.keys(FAILURE_REASONS), ...OPERATOR_FAILURE_REASONS, "WorkerError"]);

/** A failure reason as a metric label: one of the reasons above, else "Other", so the label set stays bounded. */
export function failureReasonLabel(reason: string | undefined): string {
  return reason !== undefined && KNOWN_REASONS.has(reason) ? reason : "Other";
}

export function isRetried(reason: FailureReason): boolean {
  return FAILURE_REASONS[reason].retry;
}

export function formatFailure(reason: FailureReason, message: string): string {
  return `${reason}: ${message}`;
}

export function parseFailure(failedReason: string | undefined): { reason: string; message: string } {
  const match = /^([A-Z][A-Za-z]+): (.*)$/s.exec(failedReason ?? "");
  return match ? { reason: match[1]!, message: match[2]! } : { reason: "WorkerError", message: failedReason || "the worker failed without a reason" };
}
