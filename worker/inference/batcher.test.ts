import { describe, expect, it } from "vitest";
import ort from "onnxruntime-node";
import { Batcher, type BatchPolicy } from "./batcher.js";
import { RunQueue, type Feeds, type Results } from "./model-session.js";

/**
 * The batcher's scheduling against a stand-in native run (pure logic): the run doubles each
 * value, refuses a batch holding a negative value, and records the batch size of each call.
 */
function harness(opts: { splitWrong?: boolean; runMs?: number } = {}) {
  const calls: number[] = [];
  const unbatchable: string[] = [];
  const queue = new RunQueue();
  const batcher = new Batcher({
    turn: (fn) => queue.push(fn),
    runNow: async (feeds: Feeds, images: number): Promise<Results> => {
      if (opts.runMs) await new Promise((r) => setTimeout(r, opts.runMs));
      const x = feeds.image!;
      const data = x.data as Float32Array;
      if (data.some((v) => v < 0)) throw new Error("negative input");
      calls.push(images);
      const dims = opts.splitWrong ? [1, data.length] : x.dims;
      return { y: new ort.Tensor("float32", data.map((v) => v * 2), dims) };
    },
    onUnbatchable: (why) => unbatchable.push(why),
  });
  const run = (value: number, policy: BatchPolicy, signal?: AbortSignal, gain = 1) =>
    batcher.run({ image: new ort.Tensor("float32", Float32Array.of(value, value), [1, 2]), gain: new ort.Tensor("float32", Float32Array.of(gain), []) }, "image", policy, signal)
      .then((r) => [...(r.y!.data as Float32Array)]);
  return { run, calls, unbatchable };
}

const policy = (maxBatchSize: number, maxDelayMs: number): BatchPolicy => ({ maxBatchSize, maxDelayMs });

describe("Batcher", () => {
  it("gathers runs of one key into one call, each caller getting its own outputs", async () => {
    const h = harness();
    const outs = await Promise.all([1, 2, 3].map((v) => h.run(v, policy(8, 20))));
    expect(outs).toEqual([[2, 2], [4, 4], [6, 6]]);
    expect(h.calls).toEqual([3]);
  });

  it("runs a full batch at once, without waiting for the delay, and starts the next group", async () => {
    const h = harness();
    const t0 = performance.now();
    const outs = await Promise.all([1, 2, 3, 4].map((v) => h.run(v, policy(2, 60_000))));
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(outs).toEqual([[2, 2], [4, 4], [6, 6], [8, 8]]);
    expect(h.calls).toEqual([2, 2]);
  });

  it("keeps different params apart", async () => {
    const h = harness();
    await Promise.all([h.run(1, policy(8, 20)), h.run(2, policy(8, 20), undefined, 0.5), h.run(3, policy(8, 20))]);
    expect(h.calls.sort()).toEqual([1, 2]);
  });

  it("lets runs that arrive while the session is busy join the waiting group (delay 0)", async () => {
    const h = harness({ runMs: 30 });
    const first = h.run(1, policy(8, 0));
    await new Promise((r) => setTimeout(r, 5)); // the first is running now
    const outs = await Promise.all([first, h.run(2, policy(8, 0)), h.run(3, policy(8, 0)), h.run(4, policy(8, 0))]);
    expect(outs).toEqual([[2, 2], [4, 4], [6, 6], [8, 8]]);
    expect(h.calls).toEqual([1, 3]);
  });

  it("drops a member whose signal fires while it waits: it fails at once, the others run", async () => {
    const h = harness();
    const abort = new AbortController();
    const gone = h.run(9, policy(8, 300), abort.signal);
    let restDone = false;
    const rest = Promise.all([h.run(1, policy(8, 300)), h.run(2, policy(8, 300))]).finally(() => (restDone = true));
    abort.abort(new DOMException("canceled", "AbortError"));
    await expect(gone).rejects.toMatchObject({ name: "AbortError" });
    // It failed at once, before its group ran.
    expect(restDone).toBe(false);
    expect(await rest).toEqual([[2, 2], [4, 4]]);
    expect(h.calls).toEqual([2]);
  });

  it("runs a refused batch again one member at a time: only the bad one fails", async () => {
    const h = harness();
    const results = await Promise.allSettled([1, -1, 3].map((v) => h.run(v, policy(8, 20))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(h.calls).toEqual([1, 1]);
    expect(h.unbatchable).toEqual([]);
  });

  it("stops batching a graph whose outputs cannot be split per member", async () => {
    const h = harness({ splitWrong: true });
    expect(await Promise.all([1, 2].map((v) => h.run(v, policy(8, 20))))).toEqual([[2, 2], [4, 4]]);
    await Promise.all([3, 4].map((v) => h.run(v, policy(8, 20))));
    expect(h.calls).toEqual([2, 1, 1, 1, 1]);
    expect(h.unbatchable).toHaveLength(1);
  });
});
