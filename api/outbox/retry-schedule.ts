/** The Standard Webhooks schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about a day). */
export const STANDARD_RETRY_DELAYS_MS: readonly number[] = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/**
 * When a message whose `attempts` attempts all failed is tried next: `delaysMs[i]` is the wait
 * before attempt i + 1. Undefined once the schedule is spent (the message is dead).
 */
export function nextAttemptAt(attempts: number, delaysMs: readonly number[], now: Date): Date | undefined {
  const delay = delaysMs[attempts];
  return delay === undefined ? undefined : new Date(now.getTime() + delay);
}
