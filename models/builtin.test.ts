import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageModelSpec } from "../common/crd-types.js";
import { Inference } from "../worker/inference/engine.js";
import type { RawImage } from "../worker/inference/tensors.js";
import { captureLog, manifest, pixels, png, randomImage } from "../test/support/inference.js";
import { LUMA } from "./grayscale.js";
import { BINOMIAL_5 } from "./blur.js";

let dir: string;
let inference: Inference;
const specs: Record<string, ImageModelSpec> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-builtin-"));
  inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log: captureLog().log });
  for (const name of ["resize-x2", "grayscale", "blur"]) specs[name] = (await manifest(name)).spec;
});

afterAll(async () => {
  await inference.close();
  await rm(dir, { recursive: true, force: true });
});

async function run(model: string, img: RawImage, spec: ImageModelSpec = specs[model]!): Promise<RawImage> {
  // A changed spec is, to the worker, another version of the ImageModel.
  const version = JSON.stringify(spec);
  const out = await inference.run({ modelName: model, modelVersion: version, modelSpec: spec, input: await png(img), params: {}, output: { format: "png" } });
  const decoded = await pixels(out.body);
  expect([out.width, out.height]).toEqual([decoded.width, decoded.height]);
  return decoded;
}

const at = (img: RawImage, x: number, y: number, c: number): number => img.data[(y * img.width + x) * img.channels + c]!;
const clampTo = (v: number, n: number): number => Math.min(Math.max(v, 0), n - 1);
const byte = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));

/** Bilinear 2x, half_pixel: sample at (x + 0.5) / 2 - 0.5, positions clamped to the image. */
function upscaleRef(img: RawImage): RawImage {
  const w = img.width * 2, h = img.height * 2;
  const data = new Uint8Array(w * h * 3);
  const axis = (o: number, n: number): [number, number, number] => {
    const s = Math.max(0, (o + 0.5) / 2 - 0.5);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, n - 1), s - i0];
  };
  for (let y = 0; y < h; y++) {
    const [y0, y1, fy] = axis(y, img.height);
    for (let x = 0; x < w; x++) {
      const [x0, x1, fx] = axis(x, img.width);
      for (let c = 0; c < 3; c++) {
        const top = (1 - fx) * at(img, x0, y0, c) + fx * at(img, x1, y0, c);
        const bottom = (1 - fx) * at(img, x0, y1, c) + fx * at(img, x1, y1, c);
        data[(y * w + x) * 3 + c] = byte((1 - fy) * top + fy * bottom);
      }
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

/** BT.601 luma on 0..1 inputs, in float32 and in the graph's order of operations. */
function grayscaleRef(img: RawImage): RawImage {
  const f = Math.fround;
  const data = new Uint8Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) {
    const [r, g, b] = [0, 1, 2].map((c) => f(img.data[i * 3 + c]! / 255)) as [number, number, number];
    const y = f(f(f(r * f(LUMA.r)) + f(g * f(LUMA.g))) + f(b * f(LUMA.b)));
    data[i] = byte(y * 255);
  }
  return { data, width: img.width, height: img.height, channels: 1 };
}

/** 5x5 binomial blur, edge pixels repeated beyond the border. */
function blurRef(img: RawImage): RawImage {
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) sum += BINOMIAL_5[dy + 2]! * BINOMIAL_5[dx + 2]! * at(img, clampTo(x + dx, img.width), clampTo(y + dy, img.height), c);
        }
        data[(y * img.width + x) * 3 + c] = byte(sum / 256);
      }
    }
  }
  return { data, width: img.width, height: img.height, channels: 3 };
}

const SIZES: Array<[number, number]> = [[7, 5], [1, 1], [2, 3], [16, 9], [31, 17]];

describe.each([
  ["resize-x2", upscaleRef],
  ["grayscale", grayscaleRef],
  ["blur", blurRef],
] as const)("builtin %s", (model, reference) => {
  it.each(SIZES)("matches the reference math pixel for pixel on a random %ix%i image", async (w, h) => {
    const img = randomImage(w, h, w * 1000 + h);
    expect(await run(model, img)).toEqual(reference(img));
  });

  it("gives the same pixels tiled (tiny tiles) and padded to a size multiple", async () => {
    const img = randomImage(37, 23, 99);
    const input = specs[model]!.input!;
    // Overlap 6 leaves each tile 3 pixels of context: more than blur's radius of 2.
    const tiled = { ...specs[model]!, input: { ...input, maxPixels: 100, tile: { size: 12, overlap: 6 } } };
    const padded = { ...specs[model]!, input: { ...input, sizeMultiple: 8 } };
    expect(await run(model, img, tiled)).toEqual(reference(img));
    expect(await run(model, img, padded)).toEqual(reference(img));
  });
});

describe("builtin resize-x2", () => {
  it("returns a PNG exactly twice the input's size", async () => {
    const out = await inference.run({
      modelName: "resize-x2", modelVersion: "1", modelSpec: specs["resize-x2"]!, input: await png(randomImage(13, 7, 5)),
      params: {}, output: { format: "png" },
    });
    expect(out).toMatchObject({ contentType: "image/png", width: 26, height: 14 });
    expect(await pixels(out.body)).toMatchObject({ width: 26, height: 14, channels: 3 });
  });
});
