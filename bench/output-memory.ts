/**
 * Peak memory (max RSS) of one tiled ×4 job on a 4096×4096 input: a 16384×16384 output, 805 MB
 * as 8-bit RGB. Each measurement runs in its own process:
 *
 *   floor    the unavoidable part: Node, onnxruntime with the session loaded, the input decoded,
 *            and one 256-pixel tile run;
 *   spooled  the whole job as the worker runs it (the output written in bands to a PNG file);
 *   held     the same job with spooling off (the whole output in memory, then encoded by sharp).
 *
 * The graph is a bilinear ×4 Resize tiled like upscale-x4 (256-pixel tiles, overlap 24): memory
 * depends on the tiling and the output size, not on the network, and ESRGAN ×4 on 4096² takes
 * minutes of CPU per run. Prints each peak and its ratio to the floor.
 *
 *   npx tsx bench/output-memory.ts [--side 4096]
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import sharp from "sharp";
import ort from "onnxruntime-node";
import type { ImageModelSpec } from "../common/crd-types.js";
import { FLOAT, encodeModel, floatTensor, node, valueInfo } from "../models/onnx-builder.js";
import { Inference } from "../worker/inference/engine.js";
import { decode } from "../worker/inference/image-io.js";
import { toTensor, contractOf } from "../worker/inference/tensors.js";
import { crop } from "../worker/inference/tiles.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const side = Number(arg("side", "4096"));
const mode = arg("mode", "");

function resizeX4(): Uint8Array {
  return encodeModel({
    name: "resize_x4",
    doc: "bench: bilinear 4x Resize",
    nodes: [node("Resize", ["image", "", "scales"], ["output"], { mode: "linear", coordinate_transformation_mode: "half_pixel" })],
    initializers: [floatTensor("scales", [4], [1, 1, 4, 4])],
    inputs: [valueInfo("image", FLOAT, ["N", 3, "H", "W"])],
    outputs: [valueInfo("output", FLOAT, ["N", 3, "H4", "W4"])],
  });
}

const spec = (uri: string, sha256: string): ImageModelSpec => ({
  source: { uri, sha256 },
  task: "image-to-image",
  input: { name: "image", range: { min: 0, max: 255 }, maxPixels: 256 * 256, tile: { size: 256, overlap: 24 } },
  output: { name: "output", kind: "image", scale: 4, range: { min: 0, max: 255 } },
});

async function child(dir: string): Promise<void> {
  const graph = join(dir, "resize-x4.onnx");
  const sha256 = createHash("sha256").update(await readFile(graph)).digest("hex");
  const input = await readFile(join(dir, "input.png"));
  const log = pino({ level: "warn" });
  const started = performance.now();
  let detail = "";
  if (mode === "floor") {
    const session = await ort.InferenceSession.create(graph, { executionProviders: ["cpu"] });
    const image = await decode(input, 1 << 30);
    const tensor = toTensor(crop(image, { x: 0, y: 0, width: 256, height: 256 }), contractOf(spec(`file://${graph}`, sha256)));
    await session.run({ image: new ort.Tensor("float32", tensor.data, tensor.dims) });
  } else {
    const inference = new Inference({
      cacheDir: join(dir, "cache"), executionProviders: ["cpu"], maxInputPixels: 1 << 30, fetchMaxBytes: 1 << 30, fetchTimeoutMs: 60_000, log,
      ...(mode === "held" ? { spoolAbovePixels: Infinity } : {}),
    });
    try {
      const out = await inference.run({ modelName: "resize-x4", modelVersion: "1", modelSpec: spec(`file://${graph}`, sha256), input, params: {}, output: { format: "png" } });
      const bytes = Buffer.isBuffer(out.body) ? out.body.length : out.body.bytes;
      detail = `${out.width}x${out.height} png, ${(bytes / 2 ** 20).toFixed(0)} MiB`;
      if (!Buffer.isBuffer(out.body)) await rm(out.body.path);
    } catch (err) {
      detail = `failed: ${(err as Error).message}`;
    }
  }
  const maxRss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ maxRss, seconds: (performance.now() - started) / 1000, detail }));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-bench-memory-"));
  try {
    await writeFile(join(dir, "resize-x4.onnx"), resizeX4());
    // A smooth picture with some noise: realistic compression, not worst-case noise.
    const raw = Buffer.alloc(side * side * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = ((i % (side * 3)) / 3 / side * 200 + Math.floor(i / side / 3) / side * 40 + (i * 2654435761 >>> 28)) & 0xff;
    await sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toFile(join(dir, "input.png"));
    const results: Record<string, { maxRss: number; seconds: number; detail: string }> = {};
    for (const m of ["floor", "spooled", "held"]) {
      const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1]!, "--side", String(side), "--mode", m, "--dir", dir], { maxBuffer: 1 << 20 });
      results[m] = JSON.parse(out.toString()) as { maxRss: number; seconds: number; detail: string };
    }
    const floor = results.floor!.maxRss;
    console.log(`${side}x${side} input, x4 output (${side * 4}x${side * 4}), 256-pixel tiles; peak RSS per process:`);
    for (const [m, r] of Object.entries(results)) {
      console.log(`  ${m.padEnd(8)} ${(r.maxRss / 2 ** 20).toFixed(0).padStart(6)} MiB  ${(r.maxRss / floor).toFixed(2)}x floor  ${r.seconds.toFixed(1)} s  ${r.detail}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (mode) await child(arg("dir", ""));
else await main();
