import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageModelSpec } from "../../common/crd-types.js";
import type { MetricValueWithName } from "prom-client";
import { Registry } from "../../common/metrics.js";
import { FLOAT, encodeModel, floatTensor, node, valueInfo } from "../../models/onnx-builder.js";
import { Inference, type InferenceRequest } from "./engine.js";
import { captureLog, manifest, pixels, png, randomImage } from "../../test/support/inference.js";
import type { RawImage } from "./tensors.js";

/**
 * Micro-batching through the real engine: real onnxruntime sessions in their threads, built-in
 * graphs and a small generated one. Runs are counted by pixelmill_inference_batch_images.
 */
let dir: string;
let gated: ImageModelSpec;

/**
 * image × gain × table[int(max(image))], with table = [1, 1]: the identity times gain for inputs
 * below 2, and a real onnxruntime error (Gather index out of bounds) for a batch holding a 2,
 * which the input range 0..2 gives a pure white pixel. A batch dimension N like the built-ins.
 */
function gatedModel(): Uint8Array {
  return encodeModel({
    name: "gated-gain",
    doc: "pixelmill test model: image * gain, failing at run time when any input value reaches 2",
    nodes: [
      node("ReduceMax", ["image"], ["peak"], { keepdims: 0 }),
      node("Cast", ["peak"], ["index"], { to: 7 }),
      node("Gather", ["table", "index"], ["gate"]),
      node("Mul", ["image", "gate"], ["gated"]),
      node("Mul", ["gated", "gain"], ["output"]),
    ],
    initializers: [floatTensor("table", [2], [1, 1])],
    inputs: [valueInfo("image", FLOAT, ["N", 3, "H", "W"]), valueInfo("gain", FLOAT, [])],
    outputs: [valueInfo("output", FLOAT, ["N", 3, "H", "W"])],
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-batching-"));
  const bytes = gatedModel();
  const path = join(dir, "gated-gain.onnx");
  await writeFile(path, bytes);
  gated = {
    source: { uri: `file://${path}`, sha256: createHash("sha256").update(bytes).digest("hex") },
    task: "image-to-image",
    input: { layout: "NCHW", colorOrder: "RGB", range: { min: 0, max: 2 } },
    output: { kind: "image", range: { min: 0, max: 2 } },
    params: [{ name: "gain", type: "number", default: 1, min: 0, max: 1 }],
  };
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

function engine(concurrency = 8) {
  const { log, lines } = captureLog();
  const metrics = new Registry();
  const inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 1 << 24, fetchMaxBytes: 1 << 24, fetchTimeoutMs: 5000, log, metrics, concurrency });
  /** Native runs and the images they held, for one model. */
  const runs = async (model: string) => {
    const metric = metrics.getSingleMetric("pixelmill_inference_batch_images");
    const values = (metric ? (await metric.get()).values : []) as Array<MetricValueWithName<string>>;
    const of = (suffix: string) => values.find((v) => v.metricName === `pixelmill_inference_batch_images_${suffix}` && v.labels.model === model)?.value ?? 0;
    return { runs: of("count"), images: of("sum") };
  };
  return { inference, lines, runs };
}

const batching = (spec: ImageModelSpec, maxBatchSize: number, maxDelayMs: number): ImageModelSpec => ({ ...spec, batching: { maxBatchSize, maxDelayMs } });

function req(modelName: string, modelSpec: ImageModelSpec, input: Buffer, over: Partial<InferenceRequest> = {}): InferenceRequest {
  return { modelName, modelVersion: "1", modelSpec, input, params: {}, output: { format: "png" }, ...over };
}

/** Random pixels that never reach 255 (the gated model's failing value). */
function below255(width: number, height: number, seed: number): RawImage {
  const img = randomImage(width, height, seed);
  return { ...img, data: img.data.map((v) => Math.min(v, 254)) };
}

describe("micro-batching", () => {
  it.each(["grayscale", "resize-x2"])("gathers concurrent %s runs into fewer session.runs, byte-identical to unbatched ones", async (name) => {
    const spec = (await manifest(name)).spec;
    const inputs = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => png(randomImage(40, 30, seed))));
    const off = engine();
    const on = engine(4);
    const alone = await Promise.all(inputs.map((input) => off.inference.run(req(name, spec, input))));
    const together = await Promise.all(inputs.map((input) => on.inference.run(req(name, batching(spec, 8, 200), input))));
    expect(together.map((r) => r.body)).toEqual(alone.map((r) => r.body));
    expect(await off.runs(name)).toEqual({ runs: 6, images: 6 });
    const batched = await on.runs(name);
    expect(batched.images).toBe(6);
    expect(batched.runs).toBeLessThan(6);
    expect(on.lines.filter((l) => l.msg === "Batches of this model can hold at most WORKER_CONCURRENCY jobs; raise it to fill them"))
      .toEqual([expect.objectContaining({ model: name, maxBatchSize: 8, concurrency: 4 })]);
    await Promise.all([off.inference.close(), on.inference.close()]);
  });

  it("never mixes runs of different sizes or params", async () => {
    const { inference, runs } = engine();
    const spec = batching(gated, 8, 200);
    const cases = [
      ...[1, 2, 3].map((seed) => ({ image: below255(16, 16, seed), gain: 1 })),
      ...[4, 5, 6].map((seed) => ({ image: below255(16, 16, seed), gain: 0.5 })),
      ...[7, 8].map((seed) => ({ image: below255(20, 12, seed), gain: 1 })),
    ];
    const encoded = await Promise.all(cases.map((c) => png(c.image)));
    const out = await Promise.all(cases.map((c, i) => inference.run(req("gated", spec, encoded[i]!, { params: { gain: c.gain } }))));
    expect(await runs("gated")).toEqual({ runs: 3, images: 8 });
    const got = await Promise.all(out.map((r) => pixels(r.body)));
    cases.forEach((c, i) => {
      const want = c.gain === 1 ? c.image.data : c.image.data.map((v) => Math.round(v / 2));
      // Halving may round either way at .5; mixed in with gain 1, a pixel would be off by up to 127.
      expect({ i, width: got[i]!.width, close: maxDiff(got[i]!.data, want) <= (c.gain === 1 ? 0 : 1) }).toEqual({ i, width: c.image.width, close: true });
    });
    await inference.close();
  });

  it("fails only the member whose input makes the graph throw", async () => {
    const { inference, runs, lines } = engine();
    const spec = batching(gated, 8, 200);
    const images = [1, 2, 3, 4, 5].map((seed) => below255(16, 16, seed));
    images[2]!.data[7] = 255;
    const results = await Promise.allSettled(images.map(async (img) => inference.run(req("gated", spec, await png(img)))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ reason: "InferenceError", message: expect.stringMatching(/onnxruntime \(cpu\).*out of/i) as unknown });
    for (const i of [0, 1, 3, 4]) {
      const body = (results[i] as PromiseFulfilledResult<{ body: Buffer }>).value.body;
      expect(maxDiff((await pixels(body)).data, images[i]!.data)).toBe(0);
    }
    // The refused batch is not counted; then each member ran alone.
    expect(await runs("gated")).toEqual({ runs: 4, images: 4 });
    expect(lines.some((l) => l.msg === "Batched runs do not work for this model; running its images one at a time")).toBe(false);
    await inference.close();
  });

  it("drops a member canceled while it waits; the others run together", async () => {
    const { inference, runs } = engine();
    // The group waits 2 s for more members; the cancel comes after 50 ms.
    const spec = batching(gated, 8, 2000);
    const inputs = await Promise.all([1, 2, 3].map((seed) => png(below255(16, 16, seed))));
    await inference.run(req("gated", batching(gated, 1, 0), inputs[0]!)); // load the session first
    const abort = new AbortController();
    const canceled = inference.run(req("gated", spec, inputs[0]!, { signal: abort.signal }));
    let othersDone = false;
    const others = Promise.all([inputs[1]!, inputs[2]!].map((input) => inference.run(req("gated", spec, input)))).finally(() => (othersDone = true));
    setTimeout(() => abort.abort(new DOMException("the job was canceled", "AbortError")), 50);
    await expect(canceled).rejects.toMatchObject({ name: "AbortError" });
    // It left at once, not when its group ran.
    expect(othersDone).toBe(false);
    await others;
    expect(await runs("gated")).toEqual({ runs: 2, images: 3 });
    await inference.close();
  });

  it("runs a lone job after about maxDelayMs, and a full batch at once", async () => {
    const { inference } = engine();
    const input = await png(below255(16, 16, 1));
    const timed = async (spec: ImageModelSpec) => {
      const t0 = performance.now();
      await inference.run(req("gated", spec, input));
      return performance.now() - t0;
    };
    await timed(gated); // load the session
    // A lone job waits out the window for company (a lower bound: load cannot make it shorter).
    expect(await timed(batching(gated, 8, 150))).toBeGreaterThanOrEqual(150);
    // A full batch does not wait for a 20 s window.
    const t0 = performance.now();
    await Promise.all([1, 2, 3, 4].map(() => inference.run(req("gated", batching(gated, 4, 20_000), input))));
    expect(performance.now() - t0).toBeLessThan(10_000);
    await inference.close();
  });
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
