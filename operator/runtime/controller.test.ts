import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../common/logger.js";
import { Controller } from "./controller.js";
import { MAX_ADD_AFTER_MS } from "./workqueue.js";

const DAY_MS = 24 * 3600 * 1000;

afterEach(() => {
  vi.useRealTimers();
});

describe("Controller requeueAfterMs", () => {
  it("re-checks a key asking for 30 days once per cap, never in a busy loop", async () => {
    vi.useFakeTimers();
    let calls = 0;
    // A finished job with ttlSecondsAfterFinished: 2592000 asks for the whole TTL each time.
    const controller = new Controller("ttl", { reconcile: () => (calls++, Promise.resolve({ requeueAfterMs: 30 * DAY_MS })) }, createLogger({ level: "silent" }), { workers: 1 });
    controller.start();
    controller.add("ns/done");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(MAX_ADD_AFTER_MS);
    expect(calls).toBe(2);
    await controller.stop();
  });
});
