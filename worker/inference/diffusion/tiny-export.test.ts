import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { decodeModel } from "../../../models/onnx-builder.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyDiffusion, type TinyDiffusionExport, type TinyDiffusionOptions, type TinyFamily } from "../../../models/tiny-diffusion/tiny-diffusion.js";
import { EXTERNAL_THRESHOLD_BYTES } from "../../../models/tiny-diffusion/tiny-diffusion-graphs.js";
import { NoiseRng } from "./rng.js";
import { parseSchedulerConfig } from "./scheduler-config.js";
import { createScheduler } from "./schedulers.js";
import { ClipTokenizer, inputIdsData } from "./tokenizer.js";

// The tiny exports of models/tiny-diffusion/tiny-diffusion.ts, loaded into real onnxruntime sessions:
// their interfaces must be those of Optimum's exports, which the diffusion pipeline is written
// against, and every graph must run.

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pixelmill-tiny-diffusion-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
const write = (opts: TinyDiffusionOptions): Promise<TinyDiffusionExport> => writeTinyDiffusion(join(root, `export-${counter++}`), opts);
const session = (exp: TinyDiffusionExport, component: string) => ort.InferenceSession.create(join(exp.dir, component, "model.onnx"), { executionProviders: ["cpu"] });

type Meta = { name: string; type: string; shape: readonly (number | string)[] };
function interfaceOf(s: ort.InferenceSession): { inputs: Meta[]; outputs: string[] } {
  const inputs = s.inputMetadata.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === "number" ? d : "?")) } : { name: m.name, type: "non-tensor", shape: [] }));
  return { inputs, outputs: [...s.outputNames] };
}
const range = (n: number, prefix: string) => Array.from({ length: n + 1 }, (_, i) => `${prefix}${i}`);

const FAMILIES: TinyFamily[] = ["sd15", "sdxl", "sdxl-turbo"];

describe.each(FAMILIES)("the tiny %s export", (family) => {
  let exp: TinyDiffusionExport;
  beforeAll(async () => {
    exp = await write({ family, seed: 3 });
  });
  const xl = family !== "sd15";

  it("has the folders and files of an Optimum export", async () => {
    const top = (await readdir(exp.dir)).sort();
    const expected = ["model_index.json", "scheduler", "text_encoder", "tokenizer", "unet", "vae_decoder", "vae_encoder", ...(xl ? ["text_encoder_2", "tokenizer_2"] : [])].sort();
    expect(top).toEqual(expected);
    expect((await readdir(join(exp.dir, "tokenizer"))).sort()).toEqual(["merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"]);
    const index = JSON.parse(await readFile(join(exp.dir, "model_index.json"), "utf8")) as Record<string, unknown>;
    expect(index._class_name).toBe(xl ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline");
    expect(index.unet).toEqual(["diffusers", "UNet2DConditionModel"]);
    const vae = JSON.parse(await readFile(join(exp.dir, "vae_decoder", "config.json"), "utf8")) as { scaling_factor: number };
    expect(vae.scaling_factor).toBe(xl ? 0.13025 : 0.18215);
  });

  it("has text encoders with CLIP's interface", async () => {
    const te = interfaceOf(await session(exp, "text_encoder"));
    expect(te.inputs).toEqual([{ name: "input_ids", type: "int64", shape: ["?", "?"] }]);
    expect(te.outputs).toEqual(["last_hidden_state", "pooler_output", ...(xl ? range(12, "hidden_states.") : [])]);
    if (!xl) return;
    const te2 = interfaceOf(await session(exp, "text_encoder_2"));
    expect(te2.inputs).toEqual([{ name: "input_ids", type: "int64", shape: ["?", "?"] }]);
    expect(te2.outputs).toEqual(["text_embeds", "last_hidden_state", ...range(32, "hidden_states.")]);
  });

  it("has a UNet with the diffusers interface", async () => {
    const u = interfaceOf(await session(exp, "unet"));
    const context = exp.textHidden.reduce((a, b) => a + b, 0);
    expect(u.inputs).toEqual([
      { name: "sample", type: "float32", shape: ["?", 4, "?", "?"] },
      { name: "timestep", type: "float32", shape: [] },
      { name: "encoder_hidden_states", type: "float32", shape: ["?", "?", context] },
      ...(xl ? [{ name: "text_embeds", type: "float32", shape: ["?", exp.textEmbeds!] }, { name: "time_ids", type: "float32", shape: ["?", 6] }] : []),
    ]);
    expect(u.outputs).toEqual(["out_sample"]);
  });

  it("runs prompt → embeddings → a few denoising steps → an image 8 times the latent size", async () => {
    const ids = ClipTokenizer.fromFiles(await tokenizerFiles(exp.dir, "tokenizer")).encode("a photo of a cat").ids;
    const feeds = { input_ids: new ort.Tensor("int64", inputIdsData([ids, ids], "int64"), [2, 77]) };
    const te = await (await session(exp, "text_encoder")).run(feeds);
    const hidden = xl ? te["hidden_states.11"]! : te.last_hidden_state!;
    expect(hidden.dims).toEqual([2, 77, exp.textHidden[0]]);
    let context = hidden.data as Float32Array;
    const extra: Record<string, ort.Tensor> = {};
    if (xl) {
      const ids2 = ClipTokenizer.fromFiles(await tokenizerFiles(exp.dir, "tokenizer_2")).encode("a photo of a cat").ids;
      const te2 = await (await session(exp, "text_encoder_2")).run({ input_ids: new ort.Tensor("int64", inputIdsData([ids2, ids2], "int64"), [2, 77]) });
      expect(te2.text_embeds!.dims).toEqual([2, exp.textEmbeds]);
      context = concatLast(context, te2["hidden_states.31"]!.data as Float32Array, exp.textHidden[0]!, exp.textHidden[1]!);
      extra.text_embeds = te2.text_embeds!;
      extra.time_ids = new ort.Tensor("float32", Float32Array.from([64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]), [2, 6]);
    }
    const width = exp.textHidden.reduce((a, b) => a + b, 0);
    const scheduler = createScheduler("euler", parseSchedulerConfig(await readFile(join(exp.dir, "scheduler", "scheduler_config.json"), "utf8")), { steps: 3 });
    const rng = new NoiseRng(11);
    let latents: Float32Array = rng.normals(2 * 4 * 3 * 5).map((v) => v * scheduler.initNoiseSigma);
    const unetSession = await session(exp, "unet");
    for (const [i, t] of scheduler.timesteps().entries()) {
      const out = await unetSession.run({
        sample: new ort.Tensor("float32", scheduler.scaleModelInput(latents, i), [2, 4, 3, 5]),
        timestep: new ort.Tensor("float32", Float32Array.of(t), []),
        encoder_hidden_states: new ort.Tensor("float32", context, [2, 77, width]),
        ...extra,
      });
      expect(out.out_sample!.dims).toEqual([2, 4, 3, 5]);
      latents = scheduler.step(out.out_sample!.data as Float32Array, i, latents, rng);
    }
    const decoded = await (await session(exp, "vae_decoder")).run({ latent_sample: new ort.Tensor("float32", latents.map((v) => v / exp.scalingFactor), [2, 4, 3, 5]) });
    expect(decoded.sample!.dims).toEqual([2, 3, 24, 40]);
    const encoded = await (await session(exp, "vae_encoder")).run({ sample: decoded.sample! });
    expect(encoded.latent_parameters!.dims).toEqual([2, 8, 3, 5]);
  });
});

describe("the tiny export's options", () => {
  it("makes the other interfaces: int32 ids, an int64 or float [1] timestep, latent_sample from the encoder", async () => {
    const exp = await write({ family: "sd15", inputIds: "int32", timestep: "int64", vaeEncoderOutput: "latent_sample" });
    expect(interfaceOf(await session(exp, "text_encoder")).inputs[0]).toEqual({ name: "input_ids", type: "int32", shape: ["?", "?"] });
    expect(interfaceOf(await session(exp, "unet")).inputs[1]).toEqual({ name: "timestep", type: "int64", shape: [1] });
    expect(interfaceOf(await session(exp, "vae_encoder")).outputs).toEqual(["latent_sample"]);
    const ids = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 521 : 522));
    const te = await (await session(exp, "text_encoder")).run({ input_ids: new ort.Tensor("int32", ids, [1, 77]) });
    expect(te.last_hidden_state!.dims).toEqual([1, 77, exp.textHidden[0]]);
    const float1 = await write({ family: "sd15", timestep: "float1" });
    expect(interfaceOf(await session(float1, "unet")).inputs[1]).toEqual({ name: "timestep", type: "float32", shape: [1] });
  });

  it("keeps the weights in model.onnx_data when asked, and onnxruntime reads them from there", async () => {
    const plain = await write({ family: "sdxl", seed: 5 });
    const external = await write({ family: "sdxl", seed: 5, externalData: ["unet"] });
    expect((await readdir(join(external.dir, "unet"))).sort()).toEqual(["config.json", "model.onnx", "model.onnx_data"]);
    // Every float weight of EXTERNAL_THRESHOLD_BYTES or more is in model.onnx_data, not in model.onnx; smaller ones stay inline.
    const initializers = (e: TinyDiffusionExport) => readFile(join(e.dir, "unet", "model.onnx")).then((b) => decodeModel(b).graph!.initializer!);
    const floats = (await initializers(plain)).filter((t) => t.floatData?.length && t.floatData.length * 4 >= EXTERNAL_THRESHOLD_BYTES);
    const weights = floats.reduce((n, t) => n + t.floatData!.length, 0);
    expect(weights).toBeGreaterThan(0);
    expect((await readFile(join(external.dir, "unet", "model.onnx_data"))).length).toBe(4 * weights);
    const moved = (await initializers(external)).filter((t) => floats.some((f) => f.name === t.name));
    expect(moved.map((t) => [t.dataLocation, t.floatData?.length ?? 0])).toEqual(floats.map(() => [1, 0]));
    const feeds = () => ({
      sample: new ort.Tensor("float32", new NoiseRng(1).normals(4 * 2 * 2), [1, 4, 2, 2]),
      timestep: new ort.Tensor("float32", Float32Array.of(500), []),
      encoder_hidden_states: new ort.Tensor("float32", new NoiseRng(2).normals(77 * 20), [1, 77, 20]),
      text_embeds: new ort.Tensor("float32", new NoiseRng(3).normals(12), [1, 12]),
      time_ids: new ort.Tensor("float32", new Float32Array(6).fill(64), [1, 6]),
    });
    const a = await (await session(plain, "unet")).run(feeds());
    const b = await (await session(external, "unet")).run(feeds());
    expect(b.out_sample!.data).toEqual(a.out_sample!.data);
  });

  it("gives the same bytes for the same seed and different weights for another", async () => {
    const graph = async (seed: number) => readFile(join((await write({ family: "sd15", seed })).dir, "unet", "model.onnx"));
    expect((await graph(9)).equals(await graph(9))).toBe(true);
    expect((await graph(9)).equals(await graph(10))).toBe(false);
  });
});

describe("malformed tiny exports", () => {
  it("can leave out a component or a file", async () => {
    const exp = await write({ family: "sdxl", malformed: { missing: ["text_encoder_2"], removeFiles: ["tokenizer/merges.txt"] } });
    const top = await readdir(exp.dir);
    expect(top).not.toContain("text_encoder_2");
    expect(top).toContain("tokenizer_2");
    const index = JSON.parse(await readFile(join(exp.dir, "model_index.json"), "utf8")) as Record<string, unknown>;
    expect(index.text_encoder_2).toEqual(["transformers", "CLIPTextModelWithProjection"]);
    expect(await readdir(join(exp.dir, "tokenizer"))).not.toContain("merges.txt");
  });

  it("can have the wrong shapes, which a session then refuses", async () => {
    const exp = await write({ family: "sd15", malformed: { latentChannels: 3, contextLength: 64, vaeScale: 4 } });
    expect(interfaceOf(await session(exp, "unet")).inputs[0]!.shape).toEqual(["?", 3, "?", "?"]);
    const ids = new BigInt64Array(77).fill(522n);
    await expect((await session(exp, "text_encoder")).run({ input_ids: new ort.Tensor("int64", ids, [1, 77]) })).rejects.toThrow();
    const decoded = await (await session(exp, "vae_decoder")).run({ latent_sample: new ort.Tensor("float32", new Float32Array(3 * 4), [1, 3, 2, 2]) });
    expect(decoded.sample!.dims).toEqual([1, 3, 8, 8]);
  });

  it("can carry broken files and renamed outputs", async () => {
    const exp = await write({
      family: "sdxl",
      malformed: { files: { "unet/model.onnx": "not a graph", "tokenizer_2/vocab.json": "{" }, renameOutputs: { vae_decoder: { sample: "image" } } },
    });
    await expect(session(exp, "unet")).rejects.toThrow();
    await expect(tokenizerFiles(exp.dir, "tokenizer_2").then((f) => ClipTokenizer.fromFiles(f))).rejects.toThrow(/vocab\.json is not JSON/);
    expect(interfaceOf(await session(exp, "vae_decoder")).outputs).toEqual(["image"]);
  });
});

async function tokenizerFiles(dir: string, folder: string) {
  const read = (file: string) => readFile(join(dir, folder, file), "utf8");
  return {
    "vocab.json": await read("vocab.json"),
    "merges.txt": await read("merges.txt"),
    "tokenizer_config.json": await read("tokenizer_config.json"),
    "special_tokens_map.json": await read("special_tokens_map.json"),
  };
}

/** [B, S, a] and [B, S, b] → [B, S, a + b], as SDXL joins its two encoders' hidden states. */
function concatLast(x: Float32Array, y: Float32Array, a: number, b: number): Float32Array {
  const rows = x.length / a;
  const out = new Float32Array(rows * (a + b));
  for (let r = 0; r < rows; r++) {
    out.set(x.subarray(r * a, (r + 1) * a), r * (a + b));
    out.set(y.subarray(r * b, (r + 1) * b), r * (a + b) + a);
  }
  return out;
}
