/**
 * Each built-in model on this machine's CPU (or the execution providers in
 * PIXELMILL_EXECUTION_PROVIDERS), at 256² and 512²: images/s through the worker's engine, its
 * stages (decode, inference, encode), and beside them the bare onnxruntime `session.run` time of
 * the same tiles in the same run, so the engine's overhead is a ratio. Models of several graphs
 * (ocr) have no single bare run to compare with and show "-".
 *
 *   npx tsx bench/inference.ts [--sizes 256,512] [--runs 3] [--models upscale-x2,ocr]
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { pino } from "pino";
import sharp from "sharp";
import { parse } from "yaml";
import type { ImageModel } from "../common/crd-types.js";
import { resolveParams } from "../common/model-params.js";
import { builtinModel } from "../models/builtin.js";
import { Inference } from "../worker/inference/engine.js";
import { decode } from "../worker/inference/image-io.js";
import { planRuns } from "../worker/inference/pipelines/single-pass.js";
import { contractOf, toTensor } from "../worker/inference/tensors.js";
import { crop } from "../worker/inference/tiles.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const sizes = arg("sizes", "256,512").split(",").map(Number);
const runs = Number(arg("runs", "3"));
const only = arg("models", "");
const manifestsDir = new URL("../models/manifests/", import.meta.url);

/** A picture with edges, gradients and text: what super-resolution and OCR see in practice. */
async function picture(side: number): Promise<Buffer> {
  const font = Math.round(side / 12);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#e8d9c0"/><stop offset="1" stop-color="#6b8fb3"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><circle cx="${side * 0.7}" cy="${side * 0.3}" r="${side / 6}" fill="#c0392b"/>
    <text x="${side * 0.08}" y="${side * 0.6}" font-family="DejaVu Sans" font-size="${font}" fill="#1d2b3a">Invoice 2026-12</text>
    <text x="${side * 0.08}" y="${side * 0.8}" font-family="DejaVu Serif" font-size="${font}" fill="#1d2b3a">Total 41.50 EUR</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bareMs(model: ImageModel, input: Buffer): Promise<number | undefined> {
  if (model.spec.components || !model.spec.source.uri.startsWith("builtin:")) return undefined;
  const bytes = await builtinModel(model.spec.source.uri.slice("builtin:".length));
  if (!bytes) return undefined;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
  const image = await decode(input, 1 << 30);
  const contract = contractOf(model.spec);
  const tiles = planRuns(model.spec, image.width, image.height);
  const params = resolveParams(model.spec.params, {});
  const inputName = model.spec.input?.name || session.inputNames[0]!;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) if (name !== inputName) feeds[name] = new ort.Tensor("float32", Float32Array.of(Number(params[name])), []);
  const tensors = tiles.map((tile) => toTensor(crop(image, tile), contract));
  const times: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const t0 = performance.now();
    for (const t of tensors) await session.run({ ...feeds, [inputName]: new ort.Tensor("float32", t.data, t.dims) });
    if (r > 0) times.push(performance.now() - t0); // the first run warms up
  }
  await session.release();
  return median(times);
}

async function main(): Promise<void> {
  const files = (await readdir(manifestsDir)).filter((f) => f.endsWith(".yaml")).sort();
  const models = await Promise.all(files.map(async (f) => parse(await readFile(new URL(f, manifestsDir), "utf8")) as ImageModel));
  const chosen = models.filter((m) => !only || only.split(",").includes(m.metadata.name!));
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-bench-inference-"));
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const providers = (process.env.PIXELMILL_EXECUTION_PROVIDERS ?? "cpu").split(",") as Array<"cuda" | "webgpu" | "cpu">;
  const inference = new Inference({ cacheDir: dir, executionProviders: providers, maxInputPixels: 1 << 30, fetchMaxBytes: 1 << 30, fetchTimeoutMs: 60_000, log });
  console.log(`execution providers: ${providers.join(",")}; median of ${runs} runs after one warm-up; times in ms`);
  console.log("model            size   img/s   decode  infer   encode   total   bare run  total/bare");
  try {
    for (const model of chosen) {
      for (const side of sizes) {
        const input = await picture(side);
        const samples: Array<{ decode: number; infer: number; encode: number; total: number }> = [];
        for (let r = 0; r <= runs; r++) {
          lines.length = 0;
          const t0 = performance.now();
          await inference.run({ modelName: model.metadata.name!, modelVersion: "1", modelSpec: model.spec, input, params: {}, output: { format: "png" } });
          const total = performance.now() - t0;
          const done = lines.find((l) => l.msg === "Inference finished") as { decodeMs: number; inferMs: number; encodeMs: number } | undefined;
          if (r > 0 && done) samples.push({ decode: done.decodeMs, infer: done.inferMs, encode: done.encodeMs, total });
        }
        const bare = await bareMs(model, input);
        const m = { decode: median(samples.map((s) => s.decode)), infer: median(samples.map((s) => s.infer)), encode: median(samples.map((s) => s.encode)), total: median(samples.map((s) => s.total)) };
        const cells = [
          model.metadata.name!.padEnd(16), `${side}²`.padEnd(6), (1000 / m.total).toFixed(2).padStart(6),
          ...[m.decode, m.infer, m.encode, m.total].map((v) => v.toFixed(0).padStart(7)),
          (bare === undefined ? "-" : bare.toFixed(0)).padStart(9), (bare === undefined ? "-" : `${(m.total / bare).toFixed(2)}x`).padStart(10),
        ];
        console.log(cells.join("  "));
      }
    }
  } finally {
    await inference.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
