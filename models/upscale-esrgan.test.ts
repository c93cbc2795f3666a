import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { ImageModelSpec } from "../common/crd-types.js";
import { Inference } from "../worker/inference/engine.js";
import type { RawImage } from "../worker/inference/tensors.js";
import { planTiles } from "../worker/inference/tiles.js";
import { packageFolder } from "./tfjs/read.js";
import { captureLog, manifest, pixels, png } from "../test/support/inference.js";
import { ESRGAN_SCALES, esrganRadius } from "./upscale-esrgan.js";

/**
 * The trained upscalers (upscale-x2/x3/x4/x8, @upscalerjs/esrgan-slim; upscale-x2-hq ... x8-hq,
 * @upscalerjs/esrgan-thick) through the worker's own inference path, with the specs of their
 * built-in manifests.
 */
let dir: string;
let inference: Inference;
const specs: Record<string, ImageModelSpec> = {};
const ASSETS = packageFolder("@upscalerjs/esrgan-slim", "assets");
const THICK_ASSETS = packageFolder("@upscalerjs/esrgan-thick", "assets");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-esrgan-"));
  inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log: captureLog().log });
  for (const name of ["resize-x2", ...ESRGAN_SCALES.flatMap((s) => [`upscale-x${s}`, `upscale-x${s}-hq`])]) specs[name] = (await manifest(name)).spec;
});

afterAll(async () => {
  await inference.close();
  await rm(dir, { recursive: true, force: true });
});

async function run(model: string, input: Buffer, spec: ImageModelSpec = specs[model]!): Promise<RawImage> {
  const out = await inference.run({ modelName: model, modelVersion: JSON.stringify(spec), modelSpec: spec, input, params: {}, output: { format: "png" } });
  return pixels(out.body);
}

async function rgb(input: string | Buffer): Promise<RawImage> {
  return pixels(await sharp(input).removeAlpha().png().toBuffer());
}

function maxAbsError(a: RawImage, b: RawImage): number {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}

function psnr(a: RawImage, b: RawImage): number {
  let se = 0;
  for (let i = 0; i < a.data.length; i++) se += (a.data[i]! - b.data[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.data.length));
}

/** Mean absolute difference between horizontal and vertical neighbours: how much edge an image has. */
function gradientEnergy(img: RawImage): number {
  const { width: w, height: h, channels: c, data } = img;
  let sum = 0;
  for (let y = 0; y < h - 1; y++) {
    for (let x = 0; x < w - 1; x++) {
      for (let k = 0; k < c; k++) {
        const i = (y * w + x) * c + k;
        sum += Math.abs(data[i + c]! - data[i]!) + Math.abs(data[i + w * c]! - data[i]!);
      }
    }
  }
  return sum / (w * h * c);
}

/** Photo-like, with fine detail: gradients, solid shapes, text of several sizes and fonts, thin lines, noise. */
async function detailedImage(n: number): Promise<RawImage> {
  const lines = Array.from({ length: 12 }, (_, i) => `<line x1="${n * 0.55}" y1="${n * 0.9 + i * 2}" x2="${n * 0.95}" y2="${n * 0.9 + i * 2 - 20}" stroke="#000" stroke-width="1"/>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${n}" height="${n}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#2a4d8f"/><stop offset="1" stop-color="#f0c080"/></linearGradient></defs>
    <rect width="${n}" height="${n}" fill="url(#g)"/>
    <circle cx="${n * 0.7}" cy="${n * 0.3}" r="${n * 0.18}" fill="#c03030"/>
    <rect x="${n * 0.1}" y="${n * 0.55}" width="${n * 0.35}" height="${n * 0.3}" fill="#204020" transform="rotate(12 ${n * 0.3} ${n * 0.7})"/>
    <text x="8" y="${n * 0.2}" font-family="sans-serif" font-size="${n / 10}" fill="#ffffff">Pixelmill 13</text>
    <text x="8" y="${n * 0.45}" font-family="serif" font-size="${n / 16}" fill="#101010">Sharp edges, fine text</text>
    <text x="${n * 0.5}" y="${n * 0.8}" font-family="monospace" font-size="${n / 20}" fill="#ffff00">ESRGAN x2</text>
    ${lines.join("")}
  </svg>`;
  const img = await rgb(Buffer.from(svg));
  // Sensor-like noise, ±12 at most (a sum of three uniform draws), from a fixed seed.
  let seed = 7;
  const uniform = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const data = img.data.map((v) => Math.min(255, Math.max(0, Math.round(v + (uniform() + uniform() + uniform() - 1.5) * 8))));
  return { ...img, data };
}

async function downscale2(img: RawImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).resize(img.width / 2, img.height / 2, { kernel: "cubic" }).png().toBuffer();
}

describe("built-in ESRGAN upscalers (@upscalerjs/esrgan-slim)", () => {
  it.each([2, 3, 4])("upscale-x%i gives the package's published sample output for its fixture photo", async (scale) => {
    const fixture = await rgb(join(ASSETS, "fixture.png"));
    const sample = await rgb(join(ASSETS, `samples/${scale}x/result.png`));
    const out = await run(`upscale-x${scale}`, await png(fixture));
    const error = maxAbsError(out, sample);
    console.log(`upscale-x${scale} vs assets/samples/${scale}x/result.png (${sample.width}x${sample.height}): max abs error ${error}`);
    // TF.js and onnxruntime sum in different orders: a value near .5 may round the other way.
    expect(error).toBeLessThanOrEqual(1);
  });

  it("upscale-x8 gives the photo back from a 32x32 thumbnail (the package ships no x8 sample)", async () => {
    const fixture = await rgb(join(ASSETS, "fixture.png"));
    const small = await rgb(await sharp(join(ASSETS, "fixture.png")).resize(32, 32, { kernel: "cubic" }).png().toBuffer());
    const out = await run("upscale-x8", await png(small));
    expect([out.width, out.height]).toEqual([256, 256]);
    const reference = await rgb(await sharp(fixture.data, { raw: { width: 128, height: 128, channels: 3 } }).resize(256, 256, { kernel: "cubic" }).png().toBuffer());
    const p = psnr(out, reference);
    console.log(`upscale-x8 of the fixture's 32x32 thumbnail vs the fixture (cubic to 256x256): PSNR ${p.toFixed(2)} dB`);
    // A 32x32 thumbnail cannot hold the photo's detail; the upscale must still be the photo.
    expect(p).toBeGreaterThan(18);
  });

  it("upscale-x2 is sharper than bilinear (resize-x2) on a 2x-downscaled detailed image: higher PSNR against the original", async () => {
    const original = await detailedImage(256);
    const small = await downscale2(original);
    const [esrgan, bilinear] = [await run("upscale-x2", small), await run("resize-x2", small)];
    const [pE, pB] = [psnr(esrgan, original), psnr(bilinear, original)];
    console.log(`text+gradients+noise 256x256, cubic 2x down then 2x up: PSNR upscale-x2 ${pE.toFixed(2)} dB, resize-x2 (bilinear) ${pB.toFixed(2)} dB`);
    expect(pE).toBeGreaterThan(pB);
  });

  it("upscale-x2 restores more edge detail than bilinear on a real photo (the package's fixture)", async () => {
    const original = await rgb(join(ASSETS, "fixture.png"));
    const small = await downscale2(original);
    const [esrgan, bilinear] = [await run("upscale-x2", small), await run("resize-x2", small)];
    const [gO, gE, gB] = [original, esrgan, bilinear].map(gradientEnergy) as [number, number, number];
    console.log(
      `flower photo 128x128, cubic 2x down then 2x up: PSNR upscale-x2 ${psnr(esrgan, original).toFixed(2)} dB, resize-x2 ${psnr(bilinear, original).toFixed(2)} dB; ` +
        `gradient energy original ${gO.toFixed(2)}, upscale-x2 ${gE.toFixed(2)}, resize-x2 ${gB.toFixed(2)}`,
    );
    // A GAN-trained network trades some PSNR on fine texture for sharpness: the edges are what it restores.
    expect(gE).toBeGreaterThan(gB * 1.1);
    expect(gE).toBeLessThan(gO);
  });

  it("tiles overlapping by twice the receptive-field radius stitch to the untiled result (no seams)", async () => {
    const image = await rgb(await downscale2(await detailedImage(256)));
    const spec = specs["upscale-x2"]!;
    const untiled = await run("upscale-x2", await png(image), { ...spec, input: { ...spec.input, tile: undefined } });
    const tiledWith = async (overlap: number) => {
      const tile = { size: 64, overlap };
      const out = await run("upscale-x2", await png(image), { ...spec, input: { ...spec.input, tile } });
      return { out, borders: borderError(out, untiled, planTiles(image.width, image.height, tile.size, tile.overlap), 2) };
    };
    const radius = await esrganRadius("slim", 2);
    const good = await tiledWith(spec.input!.tile!.overlap!);
    const tooSmall = await tiledWith(4);
    console.log(`upscale-x2 on 128x128, 64-pixel tiles: max abs error along tile borders ${good.borders} (overlap ${spec.input!.tile!.overlap}), ${tooSmall.borders} (overlap 4); receptive-field radius ${radius}`);
    // Each kept output pixel saw its whole receptive field in its tile, so only float summation
    // order differs from the untiled run: a value may round the other way (1 of 255).
    expect(good.borders).toBeLessThanOrEqual(1);
    expect(maxAbsError(good.out, untiled)).toBeLessThanOrEqual(1);
    // The check is real: with too little overlap the tile edges' zero padding shows along the seams.
    expect(tooSmall.borders).toBeGreaterThan(2);
  });

  it.each(ESRGAN_SCALES)("upscale-x%i's manifest tiles with an overlap of at least twice the network's receptive-field radius", async (scale) => {
    const radius = await esrganRadius("slim", scale);
    expect(radius).toBe(10);
    expect(specs[`upscale-x${scale}`]!.input!.tile!.overlap).toBeGreaterThanOrEqual(2 * radius);
    expect(specs[`upscale-x${scale}`]!.output).toMatchObject({ scale, range: { min: 0, max: 255 } });
  });
});

describe("built-in ESRGAN-thick upscalers (@upscalerjs/esrgan-thick, the -hq models)", () => {
  // The smallest sample only: thick runs 154 convolutions, about 4 s for this 128x128 input on 2 cores.
  // ×3, ×4 and ×8 were checked the same way by hand (max abs error 1 each).
  it("upscale-x2-hq gives the package's published sample output for its fixture photo (0..1 in and out)", async () => {
    const fixture = await rgb(join(THICK_ASSETS, "fixture.png"));
    const sample = await rgb(join(THICK_ASSETS, "samples/2x/result.png"));
    const out = await run("upscale-x2-hq", await png(fixture));
    const error = maxAbsError(out, sample);
    const slimError = maxAbsError(await run("upscale-x2", await png(fixture)), sample);
    console.log(`upscale-x2-hq vs esrgan-thick assets/samples/2x/result.png (${sample.width}x${sample.height}): max abs error ${error} (upscale-x2, slim: ${slimError})`);
    expect(error).toBeLessThanOrEqual(1);
    // The check is real: the sample tells the two networks apart.
    expect(slimError).toBeGreaterThan(8);
  });

  it.each(ESRGAN_SCALES)("upscale-x%i-hq's manifest: 0..1 in and out, 512-pixel tiles overlapping by 64 (the measured reach, not the 154 radius)", async (scale) => {
    const radius = await esrganRadius("thick", scale);
    // 154 convolutions (3x3) on the deepest path: 153 before the pixel shuffle, one after. An
    // overlap of 2 x 154 would cost several GB per tile; the manifests say why 64 is enough.
    expect(radius).toBe(154);
    const spec = specs[`upscale-x${scale}-hq`]!;
    expect(spec.input!.tile).toEqual({ size: 512, overlap: 64 });
    expect(spec.input!.tile!.size).toBeGreaterThan(spec.input!.tile!.overlap!);
    expect(spec.input!.range).toEqual({ min: 0, max: 1 });
    expect(spec.output).toMatchObject({ scale, range: { min: 0, max: 1 } });
  });
});

/** Max abs error within `band` output pixels of the seams between tiles' kept regions. */
function borderError(a: RawImage, b: RawImage, tiles: ReturnType<typeof planTiles>, band: number): number {
  const scale = a.width / Math.max(...tiles.map((t) => t.keep.x1));
  const xs = new Set(tiles.map((t) => t.keep.x0 * scale).filter((x) => x > 0));
  const ys = new Set(tiles.map((t) => t.keep.y0 * scale).filter((y) => y > 0));
  const near = (v: number, seams: Set<number>) => [...seams].some((s) => v >= s - band && v < s + band);
  let max = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (!near(x, xs) && !near(y, ys)) continue;
      for (let c = 0; c < a.channels; c++) {
        const i = (y * a.width + x) * a.channels + c;
        max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
      }
    }
  }
  return max;
}
