import { describe, expect, it } from "vitest";
import type { Clock } from "../../common/clock.js";
import { createLogger } from "../../common/logger.js";
import { FinishedJobDeleter, type DeleteOutcome, type DeleteTarget, type JobDeletePort } from "./finished-job-deleter.js";

/** Timers that fire when the test moves time past them. */
class SteppedClock implements Clock {
  time = 1_000_000;
  private timers = new Map<number, { fn: () => void; at: number }>();
  private seq = 0;
  now = () => this.time;
  setTimeout = (fn: () => void, ms: number) => {
    this.timers.set(++this.seq, { fn, at: this.time + ms });
    return this.seq;
  };
  clearTimeout = (handle: unknown) => void this.timers.delete(handle as number);
  async advance(ms: number): Promise<void> {
    this.time += ms;
    for (const [handle, t] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.time) continue;
      this.timers.delete(handle);
      t.fn();
    }
    await settle();
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/** Records every delete; answers with `answer` (a function of the target), resolving at once unless held. */
class RecordingPort implements JobDeletePort {
  calls: DeleteTarget[] = [];
  inFlight = 0;
  maxInFlight = 0;
  held: Array<() => void> = [];
  hold = false;
  constructor(private readonly answer: (t: DeleteTarget) => DeleteOutcome | Error = () => "deleted") {}
  async deleteJob(t: DeleteTarget): Promise<DeleteOutcome> {
    this.calls.push(t);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    if (this.hold) await new Promise<void>((r) => this.held.push(r));
    this.inFlight--;
    const a = this.answer(t);
    if (a instanceof Error) throw a;
    return a;
  }
  release() {
    this.held.splice(0).forEach((r) => r());
  }
}

const log = createLogger({ level: "silent" });
const target = (n: number, rv = "10"): DeleteTarget => ({ namespace: "ns", name: `job-${n}`, uid: `uid-${n}`, resourceVersion: rv });

function setup(opts: { port?: RecordingPort; delayMs?: number; concurrency?: number; owns?: (ns: string) => Promise<boolean> } = {}) {
  const clock = new SteppedClock();
  const port = opts.port ?? new RecordingPort();
  const deleter = new FinishedJobDeleter({ port, log, clock, delayMs: opts.delayMs ?? 30_000, backupDelayMs: 30_000, concurrency: opts.concurrency, retryMs: 5000, owns: opts.owns });
  return { clock, port, deleter };
}

describe("FinishedJobDeleter", () => {
  it("deletes a job its replica recorded the delay after it finished, with the recorded UID and resourceVersion", async () => {
    const { clock, port, deleter } = setup();
    deleter.schedule(target(1, "42"), new Date(clock.now() - 10_000), true);
    await clock.advance(19_000);
    expect(port.calls).toEqual([]);
    await clock.advance(1000);
    expect(port.calls).toEqual([target(1, "42")]);
    expect(deleter.size).toBe(0);
  });

  it("deletes at once what finished longer ago than the delay (found by a relist after an outage)", async () => {
    const { clock, port, deleter } = setup();
    deleter.schedule(target(1), new Date(clock.now() - 3_600_000), false);
    await settle();
    expect(port.calls).toEqual([target(1)]);
  });

  it("0 s: deletes at once, as soon as the end is recorded", async () => {
    const { clock, port, deleter } = setup({ delayMs: 0 });
    deleter.schedule(target(1), new Date(clock.now()), true);
    await settle();
    expect(port.calls).toHaveLength(1);
  });

  it("on a replica that did not write the end, waits longer, and sends nothing once the job is seen deleted", async () => {
    const { clock, port, deleter } = setup();
    deleter.schedule(target(1), new Date(clock.now()), false);
    deleter.schedule(target(2), new Date(clock.now()), false);
    await clock.advance(30_000);
    expect(port.calls).toEqual([]);
    deleter.forget("uid-1"); // the writer's delete reached this replica's watch
    await clock.advance(30_000);
    expect(port.calls).toEqual([target(2)]); // the writer went away before deleting job 2
  });

  it("a newer state of the job replaces the pending one, keeping the earlier time", async () => {
    const { clock, port, deleter } = setup();
    deleter.schedule(target(1, "10"), new Date(clock.now()), true);
    await clock.advance(10_000);
    deleter.schedule(target(1, "11"), new Date(clock.now() - 10_000), false); // e.g. a label added, seen by the watch
    await clock.advance(20_000);
    expect(port.calls).toEqual([target(1, "11")]);
  });

  it("a job whose finish time lies ahead of this clock waits the delay from now", async () => {
    const { clock, port, deleter } = setup();
    deleter.schedule(target(1), new Date(clock.now() + 600_000), true);
    await clock.advance(30_000);
    expect(port.calls).toHaveLength(1);
  });

  it("runs at most `concurrency` deletes at once and gets through all of them", async () => {
    const port = new RecordingPort();
    port.hold = true;
    const { clock, deleter } = setup({ port, concurrency: 3 });
    for (let i = 0; i < 20; i++) deleter.schedule(target(i), new Date(clock.now() - 3_600_000), false);
    await settle();
    expect(port.calls).toHaveLength(3);
    while (port.calls.length < 20 || port.inFlight > 0) {
      port.release();
      await settle();
    }
    expect(port.maxInFlight).toBe(3);
    expect(new Set(port.calls.map((c) => c.uid)).size).toBe(20);
    expect(deleter.size).toBe(0);
  });

  it("tries a failed delete again later; 404 and 409 are ends, not failures", async () => {
    let failures = 2;
    const port = new RecordingPort((t) => (t.uid === "uid-1" && failures-- > 0 ? new Error("apiserver unavailable") : t.uid === "uid-2" ? "gone" : "changed"));
    const { clock, deleter } = setup({ port, delayMs: 0 });
    for (const n of [1, 2, 3]) deleter.schedule(target(n), new Date(clock.now()), true);
    await settle();
    expect(port.calls.map((c) => c.uid)).toEqual(["uid-1", "uid-2", "uid-3"]);
    await clock.advance(5000);
    await clock.advance(5000);
    expect(port.calls.map((c) => c.uid)).toEqual(["uid-1", "uid-2", "uid-3", "uid-1", "uid-1"]);
    await clock.advance(60_000);
    expect(port.calls).toHaveLength(5);
    expect(deleter.size).toBe(0);
  });

  it("leaves the jobs of a namespace that is no tenant's here, and retries when that cannot be told", async () => {
    let reachable = false;
    const owns = (ns: string) => (reachable ? Promise.resolve(ns === "ns") : Promise.reject(new Error("Postgres away")));
    const { clock, port, deleter } = setup({ delayMs: 0, owns });
    deleter.schedule(target(1), new Date(clock.now()), true);
    deleter.schedule({ ...target(2), namespace: "elsewhere" }, new Date(clock.now()), true);
    await settle();
    expect(port.calls).toEqual([]);
    reachable = true;
    await clock.advance(5000);
    expect(port.calls).toEqual([target(1)]);
    expect(deleter.size).toBe(0);
  });

  it("after stop, deletes nothing more", async () => {
    const { clock, port, deleter } = setup();
    deleter.schedule(target(1), new Date(clock.now()), true);
    await deleter.stop();
    deleter.schedule(target(2), new Date(clock.now() - 3_600_000), true);
    await clock.advance(60_000);
    expect(port.calls).toEqual([]);
  });
});
