import { describe, expect, it, vi } from "vitest";
import type { Clock } from "../../common/clock.js";
import { MAX_ADD_AFTER_MS, WorkQueue } from "./workqueue.js";

/** A clock whose timers fire only when the test advances it. */
function fakeClock() {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let id = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => (timers.push({ at: now + ms, fn, id: ++id }), id),
    clearTimeout: (h) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  return { clock, advance, pending: () => timers.length };
}

describe("WorkQueue", () => {
  it("dedupes a key added many times while waiting", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands out a key twice at once; a re-add during processing comes back after done", async () => {
    const q = new WorkQueue();
    q.add("a");
    const first = await q.get();
    q.add("a");
    expect(q.length).toBe(0); // held back while "a" is processing
    q.done(first!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("a");
  });

  it("wakes a waiting getter on add", async () => {
    const q = new WorkQueue();
    const got = q.get();
    q.add("k");
    expect(await got).toBe("k");
  });

  it("backs off exponentially per key and forgets on success", () => {
    const { clock, advance } = fakeClock();
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, clock });
    expect([1, 2, 3, 4, 5].map(() => q.addRateLimited("x"))).toEqual([100, 200, 400, 800, 1000]);
    q.forget("x");
    expect(q.addRateLimited("x")).toBe(100);
    expect(q.length).toBe(0);
    advance(100);
    expect(q.length).toBe(1);
  });

  it("keeps the earliest of several add-afters for one key", () => {
    const { clock, advance, pending } = fakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter("k", 500);
    q.addAfter("k", 100);
    q.addAfter("k", 900);
    expect(pending()).toBe(1);
    advance(100);
    expect(q.length).toBe(1);
  });

  it("releases getters with undefined on shutdown and ignores later adds", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
    q.add("late");
    expect(await q.get()).toBeUndefined();
  });
});

describe("WorkQueue add-after beyond what a timer holds", () => {
  const DAY_MS = 24 * 3600 * 1000;

  it("caps a 30-day add-after at MAX_ADD_AFTER_MS: not at once, and back within the cap", () => {
    const { clock, advance, pending } = fakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter("ttl", 30 * DAY_MS);
    expect(pending()).toBe(1);
    advance(1);
    expect(q.length).toBe(0);
    advance(MAX_ADD_AFTER_MS - 2);
    expect(q.length).toBe(0);
    advance(1);
    expect(q.length).toBe(1);
  });

  it("waits the cap for NaN and Infinity rather than spinning", () => {
    const { clock, advance } = fakeClock();
    const q = new WorkQueue({ clock, maxAddAfterMs: 1000 });
    q.addAfter("nan", Number.NaN);
    q.addAfter("inf", Number.POSITIVE_INFINITY);
    advance(999);
    expect(q.length).toBe(0);
    advance(1);
    expect(q.length).toBe(2);
  });

  it("with the system clock (fake timers), a 30-day add-after does not fire at once", () => {
    vi.useFakeTimers();
    try {
      const q = new WorkQueue();
      q.addAfter("k", 30 * DAY_MS);
      vi.advanceTimersByTime(1000);
      expect(q.length).toBe(0);
      vi.advanceTimersByTime(MAX_ADD_AFTER_MS);
      expect(q.length).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
