import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import sharp from "sharp";
import { resolveParams } from "../common/model-params.js";
import { Inference } from "../worker/inference/engine.js";
import { captureLog } from "../test/support/inference.js";
import { DEMO_DIFFUSION_MODEL, demoDiffusionModel } from "./demo-diffusion.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-demo-diffusion-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("writes the demo export once, reuses it, and it generates an image with the declared defaults", async () => {
  const first = await demoDiffusionModel(dir);
  expect(first.reused).toBe(false);
  const { spec } = first.model;
  expect(first.model.metadata.name).toBe(DEMO_DIFFUSION_MODEL);
  expect(spec).toMatchObject({ task: "text-to-image", source: { uri: `file://${join(dir, DEMO_DIFFUSION_MODEL)}/` }, origin: { generated: "models/tiny-diffusion/tiny-diffusion.ts" } });
  expect(Object.keys(spec.components ?? {})).toEqual(expect.arrayContaining(["text_encoder_2/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx"]));
  const written = (await stat(join(dir, DEMO_DIFFUSION_MODEL, "unet/model.onnx"))).mtimeMs;

  const second = await demoDiffusionModel(dir);
  expect(second.reused).toBe(true);
  expect(second.model).toEqual(first.model);
  expect((await stat(join(dir, DEMO_DIFFUSION_MODEL, "unet/model.onnx"))).mtimeMs).toBe(written);

  // As a worker runs a job that names only a prompt and a seed: the ImageModel's defaults fill in the rest.
  const inference = new Inference({ cacheDir: join(dir, "cache"), executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 30, fetchTimeoutMs: 10_000, log: captureLog().log });
  try {
    const params = resolveParams(spec.params, { prompt: "a lighthouse at dusk", seed: 1 });
    expect(params).toMatchObject({ steps: 8, width: 256, height: 256 });
    const out = await inference.run({ modelName: DEMO_DIFFUSION_MODEL, modelVersion: "1", modelSpec: spec, params, output: { format: "png" } });
    expect(out).toMatchObject({ contentType: "image/png", width: 256, height: 256 });
    expect((await sharp(out.body as Buffer).metadata()).width).toBe(256);
  } finally {
    await inference.close();
  }
}, 120_000);
