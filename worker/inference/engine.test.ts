import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageModelSpec } from "../../common/crd-types.js";
import { Inference, type InferenceRequest } from "./engine.js";
import { MAIN_SESSION, type Pipeline } from "./pipelines/pipeline.js";
import { PipelineRegistry } from "./pipelines/registry.js";
import { singlePass } from "./pipelines/single-pass.js";
import { captureLog, manifest, pixels, png, randomImage } from "../../test/support/inference.js";

// Loaded at collection time: the it.each tables below are built from them.
const blur: ImageModelSpec = (await manifest("blur")).spec;
const textDetect: ImageModelSpec = (await manifest("text-detect")).spec;
const input = await png(randomImage(7, 5, 42));
const big = await png(randomImage(150, 97, 9));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-inference-"));
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

function engine(executionProviders: Array<"cuda" | "webgpu" | "cpu"> = ["cpu"], maxInputPixels = 40_000_000, pipelines?: PipelineRegistry) {
  const { log, lines } = captureLog();
  const inference = new Inference({ cacheDir: dir, executionProviders, maxInputPixels, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log, pipelines });
  return { inference, lines };
}

function req(over: Partial<InferenceRequest> = {}): InferenceRequest {
  return { modelName: "blur", modelVersion: "1", modelSpec: blur, input, params: {}, output: { format: "png" }, ...over };
}

const failure = (reason: string, message?: RegExp): unknown =>
  expect.objectContaining({ reason, ...(message ? { message: expect.stringMatching(message) as unknown } : {}) });

describe("Inference", () => {
  it("falls back from an unavailable execution provider (cuda is not bundled) and logs it once", async () => {
    const { inference, lines } = engine(["cuda", "cpu"]);
    await expect(inference.run(req())).resolves.toMatchObject({ width: 7, height: 5 });
    await expect(inference.run(req({ modelName: "grayscale", modelSpec: (await manifest("grayscale")).spec }))).resolves.toMatchObject({ width: 7 });
    const fallbacks = lines.filter((l) => l.msg === "Execution provider unavailable, falling back");
    expect(fallbacks).toEqual([expect.objectContaining({ model: "blur", ep: "cuda", err: expect.any(String) as unknown, level: 40 })]);
    expect(lines.filter((l) => l.msg === "Session created").map((l) => [l.model, l.ep])).toEqual([["blur", "cpu"], ["grayscale", "cpu"]]);
    await inference.close();
  });

  it("reuses a session across jobs, and loads a new one for a new model version", async () => {
    const { inference, lines } = engine();
    await Promise.all([inference.run(req()), inference.run(req()), inference.run(req())]);
    await inference.run(req({ modelVersion: "2" }));
    expect(lines.filter((l) => l.msg === "Session created")).toHaveLength(2);
    await inference.close();
    await expect(inference.run(req())).rejects.toEqual(failure("InferenceError", /closed/));
  });

  it("writes jpeg and webp with their content types", async () => {
    const { inference } = engine();
    await expect(inference.run(req({ output: { format: "jpeg", quality: 70 } }))).resolves.toMatchObject({ contentType: "image/jpeg" });
    await expect(inference.run(req({ output: { format: "webp" } }))).resolves.toMatchObject({ contentType: "image/webp" });
    await inference.close();
  });

  it.each([
    ["a text file", { input: Buffer.from("not an image") }, "InvalidImage"],
    ["an unknown param", { params: { radius: 3 } }, "InvalidParams"],
    ["a param out of range", { modelName: "text-detect", modelSpec: textDetect, params: { threshold: -1 } }, "InvalidParams"],
    ["a param of the wrong type", { modelName: "text-detect", modelSpec: textDetect, params: { threshold: "high" } }, "InvalidParams"],
    ["a sha256 mismatch", { modelVersion: "pinned", modelSpec: { ...blur, source: { uri: "builtin:blur", sha256: "a".repeat(64) } } }, "ModelUnavailable"],
    ["an unknown builtin", { modelVersion: "nope", modelSpec: { ...blur, source: { uri: "builtin:nope" } } }, "ModelUnavailable"],
    ["a contract naming a missing input", { modelVersion: "bad-input", modelSpec: { ...blur, input: { ...blur.input, name: "pixels" } } }, "InferenceError"],
    ["a scale the graph does not produce", { modelVersion: "bad-scale", modelSpec: { ...blur, output: { kind: "image" as const, scale: 2 } } }, "InferenceError"],
    ["a task no pipeline runs", { modelSpec: { ...blur, task: "text-to-image" as const } }, "ModelUnavailable"],
  ] as Array<[string, Partial<InferenceRequest>, string]>)("fails %s as %s", async (_what, over, reason) => {
    const { inference } = engine();
    await expect(inference.run(req(over))).rejects.toEqual(failure(reason));
    await inference.close();
  });

  it("asks for a param the graph needs when it has no default", async () => {
    const { inference } = engine();
    const params = textDetect.params!.map((p) => ({ ...p, default: undefined }));
    await expect(inference.run(req({ modelName: "text-detect", modelSpec: { ...textDetect, params } })))
      .rejects.toEqual(failure("InvalidParams", /param threshold is required by this model/));
    await inference.close();
  });

  it("refuses images over MAX_INPUT_PIXELS, and over a model's maxPixels when it does not tile", async () => {
    const { inference } = engine(["cpu"], 34);
    await expect(inference.run(req())).rejects.toEqual(failure("InputTooLarge", /MAX_INPUT_PIXELS/));
    const untiled = { ...blur, input: { ...blur.input, maxPixels: 34, tile: undefined } };
    const { inference: other, lines } = engine();
    await expect(other.run(req({ modelVersion: "untiled", modelSpec: untiled }))).rejects.toEqual(failure("InputTooLarge", /7x5 \(35 pixels\); this model takes at most 34 pixels and does not tile/));
    // Refused before the model was loaded.
    expect(lines.filter((l) => l.msg === "Session created")).toEqual([]);
    await Promise.all([inference.close(), other.close()]);
  });

  it("gives a pipeline the several named sessions it asks for, each cached under its own name", async () => {
    const seen: string[][] = [];
    const twoGraphs: Pipeline = {
      name: "two-graphs",
      tasks: ["image-to-text"],
      sources: (spec) => ({ [MAIN_SESSION]: spec.source, gray: { uri: "builtin:grayscale" } }),
      run: async ({ sessions, ...rest }) => {
        seen.push(Object.entries(sessions).map(([name, s]) => `${name}:${s.inputs.length}`));
        return singlePass.run({ ...rest, sessions: { [MAIN_SESSION]: sessions.gray! } });
      },
    };
    const { inference, lines } = engine(["cpu"], 40_000_000, new PipelineRegistry([twoGraphs]));
    const ocr = req({ modelSpec: { ...blur, task: "image-to-text" } });
    await expect(inference.run(ocr)).resolves.toMatchObject({ width: 7, height: 5 });
    await inference.run(ocr);
    expect(seen).toEqual([["model:1", "gray:1"], ["model:1", "gray:1"]]);
    expect(lines.filter((l) => l.msg === "Session created").map((l) => l.model)).toEqual(["blur", "blur/gray"]);
    expect(lines.find((l) => l.msg === "Inference finished")).toMatchObject({ pipeline: "two-graphs", ep: "cpu", tiles: 1 });
    await expect(inference.run(req())).rejects.toEqual(failure("ModelUnavailable", /no pipeline for task image-to-image \(it runs image-to-text\)/));
    await inference.close();
  });

  it("stops with the signal's reason when it is aborted", async () => {
    const { inference } = engine();
    const controller = new AbortController();
    controller.abort();
    await expect(inference.run(req({ signal: controller.signal }))).rejects.toMatchObject({ name: "AbortError" });
    const timedOut = AbortSignal.timeout(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(inference.run(req({ signal: timedOut }))).rejects.toMatchObject({ name: "TimeoutError" });
    await inference.close();
  });
});

describe("an output too large to hold whole", () => {
  // resize-x2 tiles inputs over 4 Mpx in 512-pixel tiles; here, over 64x64 in 32-pixel tiles, so a small image has several rows of tiles.
  const resize = async (): Promise<ImageModelSpec> => {
    const spec = (await manifest("resize-x2")).spec;
    return { ...spec, input: { ...spec.input, maxPixels: 64 * 64, tile: { size: 32, overlap: 4 } } };
  };

  function spooling(spoolAbovePixels: number) {
    const { log } = captureLog();
    return new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 1 << 20, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log, spoolAbovePixels });
  }

  it.each(["png", "jpeg", "webp"] as const)("is written in bands to a %s file with the pixels it would have held", async (format) => {
    const spec = await resize();
    const held = await spooling(Infinity).run(req({ modelName: "resize", modelSpec: spec, input: big, output: { format, quality: 90 } }));
    const spooled = await spooling(1000).run(req({ modelName: "resize", modelSpec: spec, input: big, output: { format, quality: 90 } }));
    expect(Buffer.isBuffer(held.body)).toBe(true);
    expect(spooled).toMatchObject({ width: 300, height: 194, contentType: `image/${format}`, body: { path: expect.stringContaining(tmpdir()) as unknown } });
    const file = spooled.body as { path: string; bytes: number };
    const [a, b] = await Promise.all([pixels(held.body), pixels(file)]);
    expect({ width: b.width, height: b.height, channels: b.channels }).toEqual({ width: 300, height: 194, channels: 3 });
    // PNG is lossless: the same pixels. JPEG and WebP encode the same pixels with the same encoder settings.
    let maxError = 0;
    for (let i = 0; i < a.data.length; i++) maxError = Math.max(maxError, Math.abs(a.data[i]! - b.data[i]!));
    expect(maxError).toBe(0);
    expect((await stat(file.path)).size).toBe(file.bytes);
    await rm(file.path);
  });

  it("leaves no file behind when the job is canceled midway", async () => {
    const before = new Set((await readdir(tmpdir())).filter((f) => f.startsWith("pixelmill-output-")));
    const controller = new AbortController();
    const run = spooling(1000).run(req({
      modelName: "resize", modelSpec: await resize(), input: big, signal: controller.signal,
      onStage: () => void setTimeout(() => controller.abort(), 5),
    }));
    await expect(run).rejects.toThrow();
    const after = (await readdir(tmpdir())).filter((f) => f.startsWith("pixelmill-output-") && !before.has(f));
    expect(after).toEqual([]);
  });
});
