import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import ort from "onnxruntime-node";
import { builtinModel } from "../../models/builtin.js";
import { FLOAT, encodeModel, node, valueInfo } from "../../models/onnx-builder.js";
import { ModelSession, type SessionBackend } from "./model-session.js";
import { SessionCache, type SessionFactory } from "./sessions.js";
import { MOVE_MIN_BYTES } from "./tensor-wire.js";
import { ThreadedSession } from "./threaded-session.js";
import { captureLog } from "../../test/support/inference.js";

/** Side of the square matrix the slow graph multiplies (a run took about 330 ms on 2 cores). */
const SIDE = 1024;
/** MatMuls in the slow graph: enough that one run is long next to a timer's period. */
const STEPS = 48;

/**
 * A test-only graph that is slow on purpose and small in memory: `STEPS` chained MatMuls of the
 * input with itself. An input of all 1/side is its own square, so the values stay finite.
 */
function slowModel(): Uint8Array {
  const nodes = Array.from({ length: STEPS }, (_, i) => node("MatMul", [i === 0 ? "x" : `m${i - 1}`, "x"], [i === STEPS - 1 ? "y" : `m${i}`]));
  return encodeModel({
    name: "slow-matmul-chain",
    doc: "pixelmill test model: a chain of MatMuls, so that one run takes a while",
    nodes,
    inputs: [valueInfo("x", FLOAT, ["S", "S"])],
    outputs: [valueInfo("y", FLOAT, ["S", "S"])],
  });
}

const slowFeeds = () => ({ x: new ort.Tensor("float32", new Float32Array(SIDE * SIDE).fill(1 / SIDE), [SIDE, SIDE]) });
const image = (w: number, h: number, fill = 100) => new ort.Tensor("float32", new Float32Array(3 * w * h).fill(fill), [1, 3, h, w]);

/** The thread behind a session: only tests reach for it, to end it the way a crash would. */
const threadOf = (s: ThreadedSession): Worker => (s as unknown as { thread: Worker }).thread;

/**
 * Runs `fn` while a 5 ms interval ticks on this thread: how long it took, and the longest gap
 * between ticks (or from the start to the end, when no tick came at all).
 */
async function ticking(fn: () => Promise<unknown>): Promise<{ duration: number; maxGap: number; ticks: number }> {
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  const start = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const end = performance.now();
  return { duration: end - start, maxGap: Math.max(maxGap, end - last), ticks };
}

let dir: string;
const paths: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-threaded-"));
  for (const name of ["grayscale", "blur"]) {
    paths[name] = join(dir, `${name}.onnx`);
    await writeFile(paths[name], (await builtinModel(name))!);
  }
  paths.slow = join(dir, "slow.onnx");
  await writeFile(paths.slow, slowModel());
  paths.garbage = join(dir, "garbage.onnx");
  await writeFile(paths.garbage, "this is not an onnx model");
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("ThreadedSession", () => {
  it("gives the same metadata and results as an onnxruntime session on the JS thread", async () => {
    const direct = await ort.InferenceSession.create(paths.grayscale!, { executionProviders: ["cpu"] });
    const threaded = await ThreadedSession.create(paths.grayscale!, "cpu");
    expect(threaded.inputMetadata).toEqual(direct.inputMetadata);
    expect(threaded.outputNames).toEqual(direct.outputNames);
    const pixels = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => (i * 37) % 256);
    const expected = await direct.run({ image: new ort.Tensor("float32", pixels.slice(), [1, 3, 64, 64]) });
    const got = await threaded.run({ image: new ort.Tensor("float32", pixels.slice(), [1, 3, 64, 64]) });
    const output = got.output!;
    expect(output).toBeInstanceOf(ort.Tensor);
    expect(output.dims).toEqual([1, 1, 64, 64]);
    expect(output.data).toEqual(expected.output!.data);
    await Promise.all([threaded.release(), direct.release()]);
  });

  it("moves a large feed's buffer to the thread and copies small ones, which stay usable", async () => {
    const threaded = await ThreadedSession.create(paths.grayscale!, "cpu");
    const large = image(128, 128);
    const small = image(8, 8);
    expect(large.data.byteLength).toBeGreaterThanOrEqual(MOVE_MIN_BYTES);
    expect(small.data.byteLength).toBeLessThan(MOVE_MIN_BYTES);
    await threaded.run({ image: large });
    expect(large.data.byteLength).toBe(0);
    const first = await threaded.run({ image: small });
    const again = await threaded.run({ image: small });
    expect(small.data.byteLength).toBe(3 * 8 * 8 * 4);
    expect(again.output!.data).toEqual(first.output!.data);
    await threaded.release();
  });

  it("fails to create with onnxruntime's own message, and ends its thread", async () => {
    const direct = await ort.InferenceSession.create(paths.garbage!, { executionProviders: ["cpu"] }).then(() => "created", (err: Error) => err.message);
    expect(direct).not.toBe("created");
    await expect(ThreadedSession.create(paths.garbage!, "cpu")).rejects.toThrow(direct);
  });

  it("fails a run with onnxruntime's own message as an InferenceError, and runs again after", async () => {
    const direct = await ort.InferenceSession.create(paths.grayscale!, { executionProviders: ["cpu"] });
    const bad = () => ({ image: new ort.Tensor("float32", new Float32Array(4 * 8 * 8), [1, 4, 8, 8]) });
    const message = await direct.run(bad()).then(() => "ran", (err: Error) => err.message);
    expect(message).not.toBe("ran");
    const session = new ModelSession(await ThreadedSession.create(paths.grayscale!, "cpu"), "cpu");
    await expect(session.run(bad())).rejects.toMatchObject({ name: "JobFailure", reason: "InferenceError", message: `onnxruntime (cpu): ${message}` });
    await expect(session.run({ image: image(8, 8) })).resolves.toHaveProperty("output");
    await Promise.all([session.release(), direct.release()]);
  });

  it("keeps the JS thread free while a run is in progress, unlike a run on the JS thread itself", async () => {
    const direct = await ort.InferenceSession.create(paths.slow!, { executionProviders: ["cpu"] });
    const threaded = await ThreadedSession.create(paths.slow!, "cpu");
    await threaded.run(slowFeeds()); // warm-up: the first run allocates
    await direct.run(slowFeeds());
    const onThread = await ticking(() => direct.run(slowFeeds()));
    const offThread = await ticking(() => threaded.run(slowFeeds()));
    // The control: on the JS thread, no timer fires for about the whole run.
    expect(onThread.maxGap).toBeGreaterThan(onThread.duration * 0.8);
    // Off it, the timer keeps firing: no gap comes near the run's own length.
    expect(offThread.maxGap).toBeLessThan(offThread.duration / 4);
    expect(offThread.ticks).toBeGreaterThan(4);
    await Promise.all([threaded.release(), direct.release()]);
  });

  it("ends its thread on release", async () => {
    const threaded = await ThreadedSession.create(paths.grayscale!, "cpu");
    const exited = once(threadOf(threaded), "exit");
    await threaded.release();
    await exited;
    await threaded.release(); // twice is harmless
  });

  it("fails the pending run with an InferenceError when its thread dies, and the cache loads the model again", async () => {
    const created: ThreadedSession[] = [];
    const create: SessionFactory = async (path, ep) => {
      const s = await ThreadedSession.create(path, ep);
      created.push(s);
      return s satisfies SessionBackend;
    };
    const { log, lines } = captureLog();
    const cache = new SessionCache({ executionProviders: ["cpu"], log, create });
    const use = (fn: (s: ModelSession) => Promise<unknown>) => cache.use("slow", "1", () => Promise.resolve(paths.slow!), fn);
    await use((s) => s.run(slowFeeds()));
    const running = use((s) => {
      const run = s.run(slowFeeds());
      // Ended from outside, as a crash would end it: the session did not ask for it.
      void threadOf(created[0]!).terminate();
      return run;
    });
    await expect(running).rejects.toMatchObject({ name: "JobFailure", reason: "InferenceError", message: "the onnxruntime thread (cpu) stopped unexpectedly (exit code 1)" });
    expect(lines.filter((l) => l.msg === "Session thread stopped, dropped from the cache").map((l) => [l.model, l.ep])).toEqual([["slow", "cpu"]]);
    await expect(use((s) => s.run(slowFeeds()))).resolves.toHaveProperty("y");
    expect(created).toHaveLength(2);
    expect(lines.filter((l) => l.msg === "Session created")).toHaveLength(2);
    await cache.close();
  });
});
