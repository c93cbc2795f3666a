import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { ImageModelSpec } from "../common/crd-types.js";
import { Inference } from "../worker/inference/engine.js";
import type { RawImage } from "../worker/inference/tensors.js";
import { captureLog, manifest, pixels } from "../test/support/inference.js";

let dir: string;
let inference: Inference;
let spec: ImageModelSpec;
let input: Buffer;
let text: Box;

interface Box { x0: number; y0: number; x1: number; y1: number }

// Black text on white, 400x160: neither side a multiple of 32, so padding and crop are exercised.
// Rendering needs a font (Debian: fonts-dejavu-core).
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="160">
  <rect width="100%" height="100%" fill="white"/>
  <text x="40" y="95" font-size="40" font-family="DejaVu Sans, sans-serif" fill="black">Pixelmill 42</text>
</svg>`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-text-detect-"));
  inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log: captureLog().log });
  spec = (await manifest("text-detect")).spec;
  input = await sharp(Buffer.from(SVG)).png().toBuffer();
  text = darkBox(await pixels(input));
});

afterAll(async () => {
  await inference.close();
  await rm(dir, { recursive: true, force: true });
});

/** Bounding box of the dark (text) pixels of an RGB image. */
function darkBox(img: RawImage): Box {
  const box = { x0: img.width, y0: img.height, x1: -1, y1: -1 };
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (img.data[(y * img.width + x) * 3]! >= 128) continue;
      box.x0 = Math.min(box.x0, x); box.y0 = Math.min(box.y0, y);
      box.x1 = Math.max(box.x1, x + 1); box.y1 = Math.max(box.y1, y + 1);
    }
  }
  return box;
}

function meanInsideOutside(mask: RawImage, box: Box): { inside: number; outside: number } {
  let inSum = 0, inN = 0, outSum = 0, outN = 0;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      const v = mask.data[y * mask.width + x]!;
      if (x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1) {
        inSum += v;
        inN++;
      } else {
        outSum += v;
        outN++;
      }
    }
  }
  return { inside: inSum / inN, outside: outSum / outN };
}

async function detect(params: Record<string, unknown>): Promise<RawImage> {
  const out = await inference.run({ modelName: "text-detect", modelVersion: "1", modelSpec: spec, input, params, output: { format: "png" } });
  expect(out).toMatchObject({ contentType: "image/png", width: 400, height: 160 });
  return pixels(out.body);
}

describe("builtin text-detect", () => {
  it("renders text for the test (needs a font installed)", () => {
    expect(text.x1 - text.x0, "no dark pixels: is a font (fonts-dejavu-core) installed?").toBeGreaterThan(100);
  });

  it("returns a one-channel mask, bright over the text and dark elsewhere", async () => {
    const mask = await detect({});
    expect(mask.channels).toBe(1);
    const { inside, outside } = meanInsideOutside(mask, text);
    expect(inside).toBeGreaterThan(50);
    expect(outside).toBeLessThan(2);
    expect(inside).toBeGreaterThan(25 * Math.max(outside, 1));
  });

  it("zeroes probabilities below threshold and keeps the rest", async () => {
    const loose = await detect({ threshold: 0 });
    const strict = await detect({ threshold: 0.9 });
    const lit = (m: RawImage): number[] => [...m.data].filter((v) => v > 0);
    expect(lit(strict).length).toBeLessThan(lit(loose).length);
    expect(Math.min(...lit(strict))).toBeGreaterThanOrEqual(229);
    expect(lit(loose).some((v) => v < 229)).toBe(true);
  });

  it("refuses a threshold outside 0..1", async () => {
    await expect(detect({ threshold: 1.5 })).rejects.toMatchObject({ reason: "InvalidParams", message: "param threshold must be at most 1, got 1.5" });
  });
});
