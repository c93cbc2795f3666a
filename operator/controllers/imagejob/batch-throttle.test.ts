import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { BatchNotifyThrottle } from "./batch-throttle.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it("passes the first notification at once, then at most one per interval per batch", () => {
  const fired: string[] = [];
  const throttle = new BatchNotifyThrottle(1000, (k) => fired.push(k), () => Date.now());
  throttle.notify("ns/a");
  expect(fired).toEqual(["ns/a"]);
  for (let i = 0; i < 50; i++) throttle.notify("ns/a");
  throttle.notify("ns/b"); // another batch has its own cadence
  expect(fired).toEqual(["ns/a", "ns/b"]);
  vi.advanceTimersByTime(999);
  expect(fired).toEqual(["ns/a", "ns/b"]);
  vi.advanceTimersByTime(1);
  expect(fired).toEqual(["ns/a", "ns/b", "ns/a"]); // the 50 became one
  vi.advanceTimersByTime(5000);
  expect(fired).toHaveLength(3); // nothing more came
  throttle.notify("ns/a");
  expect(fired).toHaveLength(4); // a quiet interval later: at once again
  throttle.stop();
});

it("drops what is due when stopped", () => {
  const fired: string[] = [];
  const throttle = new BatchNotifyThrottle(1000, (k) => fired.push(k), () => Date.now());
  throttle.notify("ns/a");
  throttle.notify("ns/a");
  throttle.stop();
  vi.advanceTimersByTime(2000);
  expect(fired).toEqual(["ns/a"]);
});
