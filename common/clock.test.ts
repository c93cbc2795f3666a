import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_MS, systemClock } from "./clock.js";

const DAY_MS = 24 * 3600 * 1000;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("systemClock.setTimeout beyond what one Node timer holds (2^31-1 ms)", () => {
  it("fires a 30-day timer after 30 days, not after 1 ms", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    systemClock.setTimeout(fn, 30 * DAY_MS);
    vi.advanceTimersByTime(1000);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS); // past the first step, re-armed
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * DAY_MS - MAX_TIMER_MS - 1001);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60 * DAY_MS);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("is canceled by clearTimeout before and after it re-arms", () => {
    vi.useFakeTimers();
    const early = vi.fn();
    const late = vi.fn();
    const a = systemClock.setTimeout(early, 2 ** 31 + 5000);
    const b = systemClock.setTimeout(late, 2 ** 31 + 5000);
    systemClock.clearTimeout(a);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    systemClock.clearTimeout(b);
    vi.advanceTimersByTime(10 * DAY_MS);
    expect(early).not.toHaveBeenCalled();
    expect(late).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps short timers as they are", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    systemClock.setTimeout(fn, 50);
    vi.advanceTimersByTime(49);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("with real timers, neither fires early nor warns of an overflow", async () => {
    const warn = vi.spyOn(process, "emitWarning");
    const fn = vi.fn();
    const handle = systemClock.setTimeout(fn, 2 ** 32);
    await new Promise((r) => setTimeout(r, 30));
    systemClock.clearTimeout(handle);
    expect(fn).not.toHaveBeenCalled();
    expect(warn.mock.calls.filter((c) => JSON.stringify(c).includes("TimeoutOverflowWarning"))).toEqual([]);
  });
});
