import { setTimeout as sleep } from "node:timers/promises";

/** Waits for `check`; at the deadline fails with `what`, or answers false when `fail` is false. */
export async function until(check: () => boolean, timeoutMs: number, what: string, fail = true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      if (fail) throw new Error(`timed out waiting for ${what}`);
      return false;
    }
    await sleep(20);
  }
  return true;
}
