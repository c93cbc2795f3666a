import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { DependencyUnavailableError } from "../errors.js";
import { DependencyMonitor } from "./dependency-monitor.js";

const log = createLogger({ level: "silent" });

/** A check whose outcome the test sets: "ok", "fail", or "hang" (never settles). */
function switchable(initial: "ok" | "fail" | "hang") {
  const state = { mode: initial, calls: 0 };
  const check = () => {
    state.calls++;
    if (state.mode === "ok") return Promise.resolve();
    if (state.mode === "fail") return Promise.reject(new Error("OOM command not allowed when used memory > 'maxmemory'."));
    return new Promise<void>(() => {});
  };
  return { state, check };
}

describe("DependencyMonitor", () => {
  it("lets work through without a round trip while nothing was found down", async () => {
    const redis = switchable("ok");
    const monitor = new DependencyMonitor({ checks: { redis: redis.check }, intervalMs: 60_000, timeoutMs: 200, log });
    await monitor.require("redis");
    expect(redis.state.calls).toBe(0);
    expect(await monitor.probe("redis")).toBe(true);
    await monitor.require("redis");
    expect(redis.state.calls).toBe(1);
  });

  it("once a check fails: aborts the signals handed out, refuses until a new check passes, then hands out live signals again", async () => {
    const redis = switchable("ok");
    const monitor = new DependencyMonitor({ checks: { redis: redis.check }, intervalMs: 60_000, timeoutMs: 200, log });
    const before = monitor.signal("redis");
    redis.state.mode = "fail";
    expect(await monitor.probe("redis")).toBe(false);
    expect(before.aborted).toBe(true);
    expect(before.reason).toBeInstanceOf(DependencyUnavailableError);
    expect(monitor.signal("redis").aborted).toBe(true);
    await expect(monitor.require("redis")).rejects.toMatchObject({ dependency: "redis" });
    await expect(monitor.verify("redis")).rejects.toBeInstanceOf(DependencyUnavailableError);

    redis.state.mode = "ok";
    await monitor.require("redis"); // checks again itself: the first request after recovery goes through
    expect(monitor.signal("redis").aborted).toBe(false);
  });

  it("counts a check that does not answer within the timeout as a failure, and shares one check between callers", async () => {
    const storage = switchable("hang");
    const monitor = new DependencyMonitor({ checks: { storage: storage.check }, intervalMs: 60_000, timeoutMs: 150, log });
    const started = Date.now();
    expect(await Promise.all([monitor.probe("storage"), monitor.probe("storage"), monitor.verify("storage").catch(() => "refused")])).toEqual([false, false, "refused"]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(storage.state.calls).toBe(1);
  });

  it("checks in the background once started, until stopped", async () => {
    const storage = switchable("fail");
    const monitor = new DependencyMonitor({ checks: { storage: storage.check }, intervalMs: 50, timeoutMs: 40, log });
    const signal = monitor.signal("storage");
    monitor.start();
    await new Promise((r) => setTimeout(r, 180));
    monitor.stop();
    expect(signal.aborted).toBe(true);
    const calls = storage.state.calls;
    expect(calls).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 120));
    expect(storage.state.calls).toBe(calls);
  });
});
