import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { ImageModelSpec } from "../../../common/crd-types.js";
import { Inference, type InferenceRequest } from "../engine.js";
import { captureLog, png, randomImage } from "../../../test/support/inference.js";
import { exportModelSpec } from "../../../models/tiny-diffusion/export-spec.js";
import { writeTinyDiffusion, type TinyDiffusionOptions } from "../../../models/tiny-diffusion/tiny-diffusion.js";

/**
 * The diffusion pipeline through the worker's engine, on tiny random-weight exports with the real
 * Optimum interfaces (models/tiny-diffusion/tiny-diffusion.ts), in real onnxruntime sessions.
 */
let dir: string;
let inference: Inference;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-diffusion-"));
  const captured = captureLog();
  inference = new Inference({ cacheDir: join(dir, "cache"), executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 30, fetchTimeoutMs: 10_000, log: captured.log });
});

afterAll(async () => {
  await inference.close();
  await rm(dir, { recursive: true, force: true });
});

let exports = 0;
async function model(opts: TinyDiffusionOptions, task: "text-to-image" | "image-to-image" = "text-to-image"): Promise<{ name: string; spec: ImageModelSpec }> {
  const name = `tiny-${opts.family}-${++exports}`;
  const folder = join(dir, name);
  await writeTinyDiffusion(folder, opts);
  return { name, spec: await exportModelSpec(folder, task) };
}

function req(m: { name: string; spec: ImageModelSpec }, params: Record<string, unknown>, over: Partial<InferenceRequest> = {}): InferenceRequest {
  return { modelName: m.name, modelVersion: "1", modelSpec: m.spec, params, output: { format: "png" }, ...over };
}

const failure = (reason: string, message: RegExp): unknown => expect.objectContaining({ reason, message: expect.stringMatching(message) as unknown });
const size = async (body: unknown) => sharp(body as Buffer).metadata().then((m) => [m.width, m.height]);

describe("diffusion: text-to-image", () => {
  it.each(["sd15", "sdxl", "sdxl-turbo"] as const)("%s makes an image of the requested size, the same bytes for a seed and others for another", async (family) => {
    const m = await model({ family });
    const params = { prompt: "a red fox in the snow", seed: 7, steps: 3, width: 64, height: 48 };
    const first = await inference.run(req(m, params));
    expect(first).toMatchObject({ contentType: "image/png", width: 64, height: 48 });
    expect(await size(first.body)).toEqual([64, 48]);
    const again = await inference.run(req(m, params));
    expect(Buffer.compare(again.body as Buffer, first.body as Buffer)).toBe(0);
    const other = await inference.run(req(m, { ...params, seed: 8 }));
    expect(Buffer.compare(other.body as Buffer, first.body as Buffer)).not.toBe(0);
    const otherPrompt = await inference.run(req(m, { ...params, prompt: "a blue whale" }));
    expect(Buffer.compare(otherPrompt.body as Buffer, first.body as Buffer)).not.toBe(0);
  });

  it.each(["euler", "euler-ancestral", "dpmpp-2m-karras", "lcm"])("runs the %s scheduler, with and without guidance", async (scheduler) => {
    const m = await model({ family: "sdxl" });
    for (const guidance_scale of [0, 5]) {
      await expect(inference.run(req(m, { prompt: "x", seed: 1, steps: 4, width: 32, height: 32, scheduler, guidance_scale }))).resolves.toMatchObject({ width: 32, height: 32 });
    }
  });

  it("guidance changes the image: the negative prompt counts when guided, not when guidance is off", async () => {
    const m = await model({ family: "sd15" });
    const base = { prompt: "a cat", seed: 3, steps: 2, width: 32, height: 32 };
    const run = async (p: Record<string, unknown>) => (await inference.run(req(m, { ...base, ...p }))).body as Buffer;
    expect(Buffer.compare(await run({ guidance_scale: 7, negative_prompt: "blurry" }), await run({ guidance_scale: 7, negative_prompt: "dark" }))).not.toBe(0);
    expect(Buffer.compare(await run({ guidance_scale: 1, negative_prompt: "blurry" }), await run({ guidance_scale: 1, negative_prompt: "dark" }))).toBe(0);
  });

  it("reports each step in order, with a preview every preview_every steps", async () => {
    const m = await model({ family: "sdxl" });
    const steps: Array<{ done: number; total: number; preview?: string }> = [];
    await inference.run(req(m, { prompt: "x", seed: 2, steps: 6, width: 64, height: 32, preview_every: 2 }, { onStep: (step, preview) => steps.push({ ...step, ...(preview ? { preview } : {}) }) }));
    expect(steps.map((s) => `${s.done}/${s.total}`)).toEqual(["1/6", "2/6", "3/6", "4/6", "5/6", "6/6"]);
    expect(steps.filter((s) => s.preview).map((s) => s.done)).toEqual([2, 4]);
    const preview = Buffer.from(steps[1]!.preview!.replace(/^data:image\/png;base64,/, ""), "base64");
    // The latents' size: the image's over 8.
    expect(await size(preview)).toEqual([8, 4]);
  });

  it("draws a seed when none is given, and says which", async () => {
    const m = await model({ family: "sd15" });
    const out = await inference.run(req(m, { prompt: "x", steps: 1, width: 16, height: 16 }));
    const seed = /seed (\d+) was drawn/.exec(out.notes?.join(" ") ?? "")?.[1];
    expect(seed).toBeDefined();
    const replay = await inference.run(req(m, { prompt: "x", steps: 1, width: 16, height: 16, seed: Number(seed) }));
    const first = await sharp(out.body as Buffer).raw().toBuffer();
    expect(Buffer.compare(await sharp(replay.body as Buffer).raw().toBuffer(), first)).toBe(0);
  });

  it.each([
    ["older exports: int32 input_ids and an int64 [1] timestep", { inputIds: "int32", timestep: "int64" }],
    ["a float [1] timestep", { timestep: "float1" }],
    ["weights in model.onnx_data beside each graph (exports over 2 GB)", { externalData: ["text_encoder", "unet", "vae_decoder"] }],
  ] as const)("runs %s", async (_what, opts) => {
    const m = await model({ family: "sd15", ...opts });
    await expect(inference.run(req(m, { prompt: "x", seed: 1, steps: 2, width: 24, height: 16 }))).resolves.toMatchObject({ width: 24, height: 16 });
  });

  it("stops between steps when its signal fires", async () => {
    const m = await model({ family: "sd15" });
    const abort = new AbortController();
    const done: number[] = [];
    const run = inference.run(req(m, { prompt: "x", seed: 1, steps: 20, width: 16, height: 16 }, {
      signal: abort.signal,
      onStep: ({ done: n }) => {
        done.push(n);
        if (n === 2) abort.abort(new DOMException("canceled", "AbortError"));
      },
    }));
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(done).toEqual([1, 2]);
  });

  it("refuses sizes that are not multiples of 8, and unknown schedulers, as InvalidParams", async () => {
    const m = await model({ family: "sd15" });
    await expect(inference.run(req(m, { prompt: "x", seed: 1, width: 30, height: 16 }))).rejects.toEqual(failure("InvalidParams", /width must be a positive multiple of 8/));
    await expect(inference.run(req(m, { prompt: "x", seed: 1, scheduler: "ddim", width: 16, height: 16 }))).rejects.toEqual(failure("InvalidParams", /scheduler must be one of euler, euler-ancestral, dpmpp-2m-karras, lcm/));
  });
});

describe("diffusion: image-to-image", () => {
  it("keeps the input's size (not a multiple of 8), is deterministic by seed, and follows the input", async () => {
    const m = await model({ family: "sdxl" }, "image-to-image");
    const input = await png(randomImage(70, 45, 5));
    const params = { prompt: "oil painting", seed: 4, steps: 4, strength: 0.5 };
    const out = await inference.run(req(m, params, { input }));
    expect(out).toMatchObject({ width: 70, height: 45 });
    expect(await size(out.body)).toEqual([70, 45]);
    expect(Buffer.compare((await inference.run(req(m, params, { input }))).body as Buffer, out.body as Buffer)).toBe(0);
    const otherInput = await png(randomImage(70, 45, 6));
    expect(Buffer.compare((await inference.run(req(m, params, { input: otherInput }))).body as Buffer, out.body as Buffer)).not.toBe(0);
  });

  it("runs fewer steps at a lower strength", async () => {
    const m = await model({ family: "sd15" }, "image-to-image");
    const input = await png(randomImage(32, 32, 1));
    const count = async (strength: number) => {
      let total = 0;
      await inference.run(req(m, { prompt: "x", seed: 1, steps: 10, strength }, { input, onStep: (s) => (total = s.total) }));
      return total;
    };
    expect(await count(1)).toBe(10);
    expect(await count(0.3)).toBe(3);
  });

  it("fails a job without an input image", async () => {
    const m = await model({ family: "sd15" }, "image-to-image");
    await expect(inference.run(req(m, { prompt: "x", seed: 1 }))).rejects.toEqual(failure("InvalidParams", /needs an input image/));
  });
});

describe("diffusion: a malformed export fails the job with a reason that names the problem", () => {
  it.each([
    ["a missing component", { missing: ["unet"] }, /lacks unet\/model\.onnx/],
    ["a tokenizer file that is not one", { files: { "tokenizer/vocab.json": "not json" } }, /tokenizer/],
    ["text encoders of another context length than 77", { contextLength: 16 }, /text encoder|input_ids|77/],
    ["a VAE that does not scale by 8", { vaeScale: 4 }, /VAE decoder made/],
    ["a corrupt graph", { files: { "unet/model.onnx": "garbage" } }, /unet|onnx|protobuf|model/i],
  ] as const)("%s", async (_what, malformed, message) => {
    const opts = { family: "sd15", malformed } as TinyDiffusionOptions;
    const name = `tiny-bad-${++exports}`;
    const folder = join(dir, name);
    await writeTinyDiffusion(folder, opts);
    // A missing component is left out of the spec too: the export as the team uploaded it.
    const spec = await exportModelSpec(folder, "text-to-image");
    const err = await inference.run(req({ name, spec }, { prompt: "x", seed: 1, steps: 1, width: 16, height: 16 })).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ reason: expect.stringMatching(/ModelUnavailable|InferenceError/) as unknown });
    expect((err as Error).message).toMatch(message);
  });
});

