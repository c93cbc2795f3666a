import { randomInt } from "node:crypto";
import ort from "onnxruntime-node";
import type { ImageModelSpec } from "../../../common/crd-types.js";
import { JobFailure, PixelmillError } from "../../../common/errors.js";
import { componentSource, EXPORT_INDEX } from "../../../common/model-export.js";
import type { ParamValue } from "../../../common/model-params.js";
import type { ModelSource } from "../model-files.js";
import type { Feeds, ModelSession } from "../model-session.js";
import type { RawImage } from "../tensors.js";
import { resizeImage } from "../image-io.js";
import { timed, type PartTimer } from "../../stage-timings.js";
import { DiffusionModelError, DiffusionParamsError } from "../diffusion/errors.js";
import { NoiseRng } from "../diffusion/rng.js";
import { parseSchedulerConfig } from "../diffusion/scheduler-config.js";
import { createScheduler, SAMPLERS, type SamplerName } from "../diffusion/schedulers.js";
import { ClipTokenizer, CLIP_CONTEXT, inputIdsData, type ClipTokenizerFiles } from "../diffusion/tokenizer.js";
import { inputImage, throwIfAborted, type Pipeline, type PipelineRequest, type PipelineResult } from "./pipeline.js";

/**
 * Stable Diffusion 1.x/2.x, SDXL and their one-step Turbo variants, from a Hugging Face Optimum
 * ONNX export (docs/diffusion.md): prompts tokenised and encoded, classifier-free guidance, the
 * scheduler's loop over the UNet, the VAE's decode (and, for image-to-image, its encode and the
 * strength). Everything the graphs expect (input names, element types, which inputs exist at
 * all) is read from the sessions, so SD and SDXL exports, old and new, run through one path.
 * The noise comes from a seeded generator in JS (diffusion/rng.ts): same seed, params and
 * execution provider, same bytes.
 */
export const diffusion: Pipeline = {
  name: "diffusion",
  tasks: ["text-to-image", "image-to-image"],
  form: "export",
  sources(spec) {
    const graphs: Record<string, ModelSource> = {
      "text-encoder": graph(spec, "text_encoder"),
      unet: graph(spec, "unet"),
      "vae-decoder": graph(spec, "vae_decoder"),
    };
    if (has(spec, "text_encoder_2/model.onnx")) graphs["text-encoder-2"] = graph(spec, "text_encoder_2");
    if (spec.task === "image-to-image") graphs["vae-encoder"] = graph(spec, "vae_encoder");
    return graphs;
  },
  files(spec) {
    const files: Record<string, ModelSource> = { [EXPORT_INDEX]: required(spec, EXPORT_INDEX), [SCHEDULER_CONFIG]: required(spec, SCHEDULER_CONFIG) };
    for (const folder of has(spec, "text_encoder_2/model.onnx") ? ["tokenizer", "tokenizer_2"] : ["tokenizer"]) {
      for (const name of ["vocab.json", "merges.txt", "tokenizer_config.json"]) files[`${folder}/${name}`] = required(spec, `${folder}/${name}`);
      if (has(spec, `${folder}/special_tokens_map.json`)) files[`${folder}/special_tokens_map.json`] = required(spec, `${folder}/special_tokens_map.json`);
    }
    for (const name of ["vae_decoder/config.json", "unet/config.json"]) if (has(spec, name)) files[name] = required(spec, name);
    return files;
  },
  check(spec, image) {
    if (spec.task === "image-to-image") inputImage(image, spec);
  },
  async run(req) {
    try {
      return await generate(req);
    } catch (err) {
      if (err instanceof DiffusionParamsError) throw new JobFailure("InvalidParams", err.message, { cause: err });
      if (err instanceof DiffusionModelError) throw new JobFailure("ModelUnavailable", `the diffusion export cannot run: ${err.message}`, { cause: err });
      throw err;
    }
  },
};

const SCHEDULER_CONFIG = "scheduler/scheduler_config.json";

/** SD's and SDXL's VAE scaling factors, for exports without vae_decoder/config.json. */
const SCALING_FACTOR = { sd: 0.18215, sdxl: 0.13025 } as const;

function has(spec: ImageModelSpec, path: string): boolean {
  return spec.components?.[path] !== undefined;
}

function required(spec: ImageModelSpec, path: string): ModelSource {
  const source = componentSource(spec, path);
  if (!source) throw new JobFailure("ModelUnavailable", `the diffusion export lacks ${path}: list it in spec.components with its sha256`);
  return source;
}

/** A folder's model.onnx, with the other files of its folder (external weights) laid beside it. */
function graph(spec: ImageModelSpec, folder: string): ModelSource {
  const main = required(spec, `${folder}/model.onnx`);
  const beside: Record<string, ModelSource> = {};
  for (const path of Object.keys(spec.components ?? {})) {
    if (!path.startsWith(`${folder}/`) || path === `${folder}/model.onnx` || path.endsWith(".json")) continue;
    beside[path.slice(folder.length + 1)] = required(spec, path);
  }
  return Object.keys(beside).length ? { ...main, beside } : main;
}

interface Settings {
  prompt: string;
  negativePrompt: string;
  seed: number;
  seedDrawn: boolean;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  sampler: SamplerName;
  strength: number;
  previewEvery: number;
}

interface Family {
  xl: boolean;
  scalingFactor: number;
  /** SDXL: an empty negative prompt means zero embeddings (model_index.json's force_zeros_for_empty_prompt). */
  zerosForEmptyNegative: boolean;
  /** The default output side when the job names none: the UNet's sample_size × 8. */
  defaultSide: number;
}

async function generate(req: PipelineRequest): Promise<PipelineResult> {
  const { spec, sessions, files, signal } = req;
  const family = familyOf(req);
  // Decoded inputs are RGB (image-io.ts): the VAE encoder takes them as they are.
  const source = spec.task === "image-to-image" ? inputImage(req.image, spec) : undefined;
  const settings = settingsOf(req.params, family, source);
  const scheduler = createScheduler(settings.sampler, parseSchedulerConfig(text(files[SCHEDULER_CONFIG]!)), { steps: settings.steps, strength: spec.task === "image-to-image" ? settings.strength : 1 });
  const rng = new NoiseRng(settings.seed);
  const unet = sessions.unet!;
  const channels = fixedDim(unet, "sample", 1) ?? 4;
  const latentShape = [1, channels, settings.height / 8, settings.width / 8];

  const guided = settings.guidance > 1;
  const conditioning = await encodePrompts(req, family, settings, guided);
  throwIfAborted(signal);

  let latents: Float32Array;
  const timesteps = scheduler.timesteps();
  if (source) {
    const resized = await resizeImage(source, settings.width, settings.height);
    const encoded = await encodeImage(sessions["vae-encoder"]!, resized, channels, req.timer);
    const scaled = encoded.map((v) => v * family.scalingFactor);
    latents = scheduler.addNoise(scaled, rng.normals(scaled.length));
  } else {
    latents = rng.normals(size(latentShape)).map((v) => v * scheduler.initNoiseSigma);
  }
  for (const [i, t] of timesteps.entries()) {
    throwIfAborted(signal);
    const input = scheduler.scaleModelInput(latents, i);
    const noise = await predictNoise(unet, input, latentShape, t, conditioning, settings.guidance, req.timer);
    latents = scheduler.step(noise, i, latents, rng);
    const done = i + 1;
    const preview = settings.previewEvery > 0 && done % settings.previewEvery === 0 && done < timesteps.length ? latentPreview(latents, latentShape) : undefined;
    await req.onStep?.({ done, total: timesteps.length }, preview);
  }
  throwIfAborted(signal);
  let image = await decodeLatents(sessions["vae-decoder"]!, latents, latentShape, family.scalingFactor, req.timer);
  // Image-to-image keeps the input's size: the model works in multiples of 8, the result is resized back.
  if (source && !req.params.width && !req.params.height && (image.width !== source.width || image.height !== source.height)) {
    image = await resizeImage(image, source.width, source.height);
  }
  const notes = settings.seedDrawn ? [`no seed was given: seed ${settings.seed} was drawn; pass it as the seed param to make this image again`] : [];
  if (conditioning.truncated) notes.push(`the prompt was longer than the text encoder's ${CLIP_CONTEXT - 2} tokens; the rest was left out`);
  return { image, stats: { steps: timesteps.length, seed: settings.seed }, ...(notes.length ? { notes } : {}) };
}

function familyOf(req: PipelineRequest): Family {
  const index = json(req.files[EXPORT_INDEX]!, EXPORT_INDEX);
  const className = typeof index._class_name === "string" ? index._class_name : "";
  const unet = req.sessions.unet!;
  const xlInputs = ["text_embeds", "time_ids"].every((name) => unet.inputs.some((i) => i.name === name));
  const xl = xlInputs && req.sessions["text-encoder-2"] !== undefined;
  if (/XL/.test(className) && !xl) {
    throw new DiffusionModelError(`${EXPORT_INDEX} names ${className}, but the export lacks SDXL's second text encoder (text_encoder_2/model.onnx) or its UNet lacks the text_embeds and time_ids inputs`);
  }
  if (!xl && xlInputs) throw new DiffusionModelError("the UNet takes SDXL's text_embeds and time_ids, but the export has no text_encoder_2/model.onnx");
  const vae = req.files["vae_decoder/config.json"] ? json(req.files["vae_decoder/config.json"], "vae_decoder/config.json") : {};
  const scalingFactor = typeof vae.scaling_factor === "number" && vae.scaling_factor > 0 ? vae.scaling_factor : xl ? SCALING_FACTOR.sdxl : SCALING_FACTOR.sd;
  const unetConfig = req.files["unet/config.json"] ? json(req.files["unet/config.json"], "unet/config.json") : {};
  const sampleSize = typeof unetConfig.sample_size === "number" ? unetConfig.sample_size : fixedDim(unet, "sample", 3);
  return {
    xl, scalingFactor,
    zerosForEmptyNegative: xl && index.force_zeros_for_empty_prompt !== false,
    defaultSide: sampleSize ? sampleSize * 8 : xl ? 1024 : 512,
  };
}

/** The job's params with the pipeline's defaults, where the ImageModel declared none. */
function settingsOf(params: Record<string, ParamValue>, family: Family, source: RawImage | undefined): Settings {
  const num = (name: string): number | undefined => (typeof params[name] === "number" ? params[name] : undefined);
  const str = (name: string): string | undefined => (typeof params[name] === "string" ? params[name] : undefined);
  const sampler = str("scheduler") ?? "euler";
  if (!(SAMPLERS as readonly string[]).includes(sampler)) throw new DiffusionParamsError(`param scheduler must be one of ${SAMPLERS.join(", ")}, not ${JSON.stringify(sampler)}`);
  // Image-to-image runs at the input's size, in multiples of 8; text-to-image at the model's.
  const side = (name: "width" | "height", fromInput: number | undefined): number => {
    const given = num(name);
    if (given !== undefined) {
      if (!Number.isInteger(given) || given < 8 || given % 8 !== 0) throw new DiffusionParamsError(`param ${name} must be a positive multiple of 8, not ${given}`);
      return given;
    }
    return fromInput === undefined ? family.defaultSide : Math.max(8, Math.floor(fromInput / 8) * 8);
  };
  const seed = num("seed");
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) throw new DiffusionParamsError(`param seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, not ${seed}`);
  const previewEvery = num("preview_every") ?? 0;
  return {
    prompt: str("prompt") ?? "",
    negativePrompt: str("negative_prompt") ?? "",
    seed: seed ?? randomInt(0, 2 ** 31),
    seedDrawn: seed === undefined,
    steps: num("steps") ?? 25,
    guidance: num("guidance_scale") ?? (family.xl ? 5 : 7.5),
    width: side("width", source?.width),
    height: side("height", source?.height),
    sampler: sampler as SamplerName,
    strength: num("strength") ?? 0.6,
    previewEvery: Math.max(0, Math.floor(previewEvery)),
  };
}

/** What the UNet is conditioned on: the prompts' embeddings (negative first when guided) and, for SDXL, pooled embeddings and time ids. */
interface Conditioning {
  /** [cond] or [uncond, cond], each [77, D]. */
  hidden: Float32Array[];
  hiddenSize: number;
  /** SDXL: text_embeds for each, [1280]. */
  pooled?: Float32Array[];
  pooledSize?: number;
  /** SDXL: original size, crop top-left, target size. */
  timeIds?: number[];
  truncated: boolean;
}

async function encodePrompts(req: PipelineRequest, family: Family, s: Settings, guided: boolean): Promise<Conditioning> {
  const tokenizers = [tokenizer(req, "tokenizer"), ...(family.xl ? [tokenizer(req, "tokenizer_2")] : [])];
  const encoders = [req.sessions["text-encoder"]!, ...(family.xl ? [req.sessions["text-encoder-2"]!] : [])];
  let truncated = false;
  const encodeOne = async (prompt: string): Promise<{ hidden: Float32Array; hiddenSize: number; pooled?: Float32Array; pooledSize?: number }> => {
    const parts: { data: Float32Array; width: number }[] = [];
    let pooled: { data: Float32Array; width: number } | undefined;
    for (const [k, encoder] of encoders.entries()) {
      const encoded = tokenizers[k]!.encode(prompt);
      truncated ||= encoded.truncated;
      const out = await encodeText(encoder, encoded.ids, family.xl, req.timer);
      parts.push(out.hidden);
      if (out.pooled) pooled = out.pooled;
    }
    const hiddenSize = parts.reduce((n, p) => n + p.width, 0);
    return { hidden: concatLastDim(parts, CLIP_CONTEXT), hiddenSize, ...(pooled ? { pooled: pooled.data, pooledSize: pooled.width } : {}) };
  };
  const cond = await encodeOne(s.prompt);
  if (family.xl && !cond.pooled) throw new DiffusionModelError("text_encoder_2 has no text_embeds output (SDXL's pooled prompt embedding)");
  const conditioning: Conditioning = {
    hidden: [cond.hidden], hiddenSize: cond.hiddenSize, truncated,
    ...(family.xl ? { pooled: [cond.pooled!], pooledSize: cond.pooledSize!, timeIds: [s.height, s.width, 0, 0, s.height, s.width] } : {}),
  };
  if (!guided) return conditioning;
  const zeros = family.zerosForEmptyNegative && s.negativePrompt === "";
  const uncond = zeros
    ? { hidden: new Float32Array(cond.hidden.length), pooled: cond.pooled && new Float32Array(cond.pooled.length) }
    : await encodeOne(s.negativePrompt);
  conditioning.hidden.unshift(uncond.hidden);
  if (conditioning.pooled) conditioning.pooled.unshift(uncond.pooled!);
  conditioning.truncated ||= truncated;
  return conditioning;
}

/**
 * One prompt through one text encoder. SD takes the last hidden state; SDXL the penultimate
 * layer's (hidden_states.N-1 of N), and the second encoder's pooled text_embeds.
 */
async function encodeText(encoder: ModelSession, ids: number[], xl: boolean, timer: PartTimer | undefined): Promise<{ hidden: { data: Float32Array; width: number }; pooled?: { data: Float32Array; width: number } }> {
  const meta = tensorInput(encoder, "input_ids");
  if (meta.type !== "int64" && meta.type !== "int32") throw new DiffusionModelError(`the text encoder's input_ids are ${meta.type}, not int64 or int32`);
  const inputIds = meta.type === "int64"
    ? new ort.Tensor("int64", inputIdsData([ids], "int64"), [1, CLIP_CONTEXT])
    : new ort.Tensor("int32", inputIdsData([ids], "int32"), [1, CLIP_CONTEXT]);
  const out = await timed(timer, "run", () => encoder.run({ input_ids: inputIds }));
  const layers = encoder.outputNames.map((n) => /^hidden_states\.(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]));
  let name = "last_hidden_state";
  if (xl) {
    if (layers.length < 2) throw new DiffusionModelError("an SDXL text encoder must output its hidden_states.N layers (export it with output_hidden_states)");
    name = `hidden_states.${Math.max(...layers) - 1}`;
  }
  const hidden = out[name];
  if (!hidden) throw new DiffusionModelError(`the text encoder has no ${name} output (its outputs: ${encoder.outputNames.join(", ")})`);
  const width = Number(hidden.dims.at(-1));
  if (hidden.dims.length !== 3 || hidden.dims[1] !== CLIP_CONTEXT) throw new DiffusionModelError(`the text encoder's ${name} is [${hidden.dims.join(", ")}], not [1, ${CLIP_CONTEXT}, hidden size]`);
  const pooled = out.text_embeds;
  return {
    hidden: { data: floats(hidden), width },
    ...(pooled ? { pooled: { data: floats(pooled), width: Number(pooled.dims.at(-1)) } } : {}),
  };
}

/**
 * The UNet's noise prediction at timestep t, guided: uncond + g × (cond − uncond). Both halves
 * go in one run when the graph's batch dimension is dynamic, else in two.
 */
async function predictNoise(unet: ModelSession, latents: Float32Array, shape: number[], t: number, c: Conditioning, guidance: number, timer: PartTimer | undefined): Promise<Float32Array> {
  const rows = c.hidden.length;
  const batched = rows === 1 || fixedDim(unet, "sample", 0) === undefined;
  const run = async (from: number, count: number): Promise<Float32Array> => {
    const feeds: Feeds = {
      sample: tensor(unet, "sample", repeat(latents, count), [count, ...shape.slice(1)]),
      timestep: timestepTensor(unet, t, count),
      encoder_hidden_states: tensor(unet, "encoder_hidden_states", concatRows(c.hidden.slice(from, from + count)), [count, CLIP_CONTEXT, c.hiddenSize]),
    };
    if (c.pooled) {
      feeds.text_embeds = tensor(unet, "text_embeds", concatRows(c.pooled.slice(from, from + count)), [count, c.pooledSize!]);
      feeds.time_ids = tensor(unet, "time_ids", repeat(Float32Array.from(c.timeIds!), count), [count, 6]);
    }
    const out = await timed(timer, "run", () => unet.run(feeds));
    const name = out.out_sample ? "out_sample" : unet.outputNames[0]!;
    return floats(out[name]!);
  };
  const predicted = batched ? await run(0, rows) : concatRows(await Promise.all(c.hidden.map((_, i) => run(i, 1))));
  if (rows === 1) return predicted;
  const n = latents.length;
  const guidedNoise = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const uncond = predicted[j]!;
    guidedNoise[j] = uncond + guidance * (predicted[n + j]! - uncond);
  }
  return guidedNoise;
}

async function decodeLatents(vae: ModelSession, latents: Float32Array, shape: number[], scalingFactor: number, timer: PartTimer | undefined): Promise<RawImage> {
  const input = vae.inputs[0]?.name ?? "latent_sample";
  const out = await timed(timer, "run", () => vae.run({ [input]: tensor(vae, input, latents.map((v) => v / scalingFactor), shape) }));
  const sample = out.sample ?? out[vae.outputNames[0]!]!;
  const [, c, h, w] = sample.dims.map(Number) as [number, number, number, number];
  if (c !== 3 || h !== shape[2]! * 8 || w !== shape[3]! * 8) throw new DiffusionModelError(`the VAE decoder made a [${sample.dims.join(", ")}] image from [${shape.join(", ")}] latents; expected [1, 3, ${shape[2]! * 8}, ${shape[3]! * 8}]`);
  const data = floats(sample);
  const pixels = new Uint8Array(w * h * 3);
  const plane = w * h;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) pixels[p * 3 + k] = Math.round(Math.min(1, Math.max(0, data[k * plane + p]! / 2 + 0.5)) * 255);
  }
  return { data: pixels, width: w, height: h, channels: 3 };
}

/** The image's latents (the distribution's mean where the encoder outputs mean and log-variance). */
async function encodeImage(vae: ModelSession, image: RawImage, channels: number, timer: PartTimer | undefined): Promise<Float32Array> {
  const input = vae.inputs[0]?.name ?? "sample";
  const { width, height } = image;
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) data[k * plane + p] = (image.data[p * 3 + k]! / 255) * 2 - 1;
  }
  const out = await timed(timer, "run", () => vae.run({ [input]: tensor(vae, input, data, [1, 3, height, width]) }));
  const latent = out.latent_sample ?? out.latent_parameters ?? out[vae.outputNames[0]!]!;
  const c = Number(latent.dims[1]);
  if (c !== channels && c !== 2 * channels) throw new DiffusionModelError(`the VAE encoder outputs ${c} channels; the UNet takes ${channels}`);
  return floats(latent).slice(0, channels * (height / 8) * (width / 8));
}

/** A rough look at the latents: their first three channels, each stretched to 0–255. */
function latentPreview(latents: Float32Array, shape: number[]): RawImage {
  const [, , h, w] = shape as [number, number, number, number];
  const plane = h * w;
  const pixels = new Uint8Array(plane * 3);
  for (let k = 0; k < 3; k++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let p = 0; p < plane; p++) {
      const v = latents[k * plane + p]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi - lo || 1;
    for (let p = 0; p < plane; p++) pixels[p * 3 + k] = Math.round(((latents[k * plane + p]! - lo) / span) * 255);
  }
  return { data: pixels, width: w, height: h, channels: 3 };
}

/**
 * Built tokenizers by the sha256 pins of their files: building one from a real CLIP vocabulary
 * (49,408 tokens, 48,894 merges) takes a few hundred ms, which every job would otherwise pay.
 */
const TOKENIZERS = new Map<string, ClipTokenizer>();
const MAX_TOKENIZERS = 16;

function tokenizer(req: PipelineRequest, folder: string): ClipTokenizer {
  const names = TOKENIZER_FILES.map((name) => `${folder}/${name}`);
  const pins = names.map((path) => componentSource(req.spec, path)?.sha256 ?? "");
  // Every file an export lists is pinned (the CRD's rule); a spec without pins is built each time.
  const key = pins.every((pin, i) => pin || !req.files[names[i]!]) ? pins.join(":") : undefined;
  const cached = key === undefined ? undefined : TOKENIZERS.get(key);
  if (cached) return cached;
  const built = buildTokenizer(req.files, folder);
  if (key !== undefined) {
    if (TOKENIZERS.size >= MAX_TOKENIZERS) TOKENIZERS.delete(TOKENIZERS.keys().next().value!);
    TOKENIZERS.set(key, built);
  }
  return built;
}

const TOKENIZER_FILES = ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] as const;

function buildTokenizer(files: Readonly<Record<string, Buffer>>, folder: string): ClipTokenizer {
  const get = (name: string) => files[`${folder}/${name}`];
  const special = get("special_tokens_map.json");
  const tokenizerFiles: ClipTokenizerFiles = {
    "vocab.json": get("vocab.json")!, "merges.txt": get("merges.txt")!, "tokenizer_config.json": get("tokenizer_config.json")!,
    ...(special ? { "special_tokens_map.json": special } : {}),
  };
  try {
    return ClipTokenizer.fromFiles(tokenizerFiles);
  } catch (err) {
    if (err instanceof PixelmillError) throw new DiffusionModelError(`${folder}: ${err.message}`, { cause: err });
    throw new DiffusionModelError(`${folder}: its files are not a CLIP tokenizer (${(err as Error).message})`, { cause: err });
  }
}

function tensorInput(session: ModelSession, name: string): ort.InferenceSession.TensorValueMetadata {
  const meta = session.inputs.find((i) => i.name === name);
  if (!meta || !meta.isTensor) throw new DiffusionModelError(`a graph lacks the input ${name} (its inputs: ${session.inputs.map((i) => i.name).join(", ")})`);
  return meta;
}

/** The input's size along `axis` when the graph fixes it; undefined when it is dynamic. */
function fixedDim(session: ModelSession, name: string, axis: number): number | undefined {
  const meta = session.inputs.find((i) => i.name === name);
  const dim = meta?.isTensor ? meta.shape[axis] : undefined;
  return typeof dim === "number" && dim > 0 ? dim : undefined;
}

/** A float feed in the element type the graph declares (float32 or float16). */
function tensor(session: ModelSession, name: string, data: Float32Array, dims: number[]): ort.Tensor {
  const { type } = tensorInput(session, name);
  if (type === "float32") return new ort.Tensor("float32", data, dims);
  if (type === "float16") return new ort.Tensor("float16", halves(data), dims);
  throw new DiffusionModelError(`the input ${name} is ${type}; float32 or float16 was expected`);
}

/** The UNet's timestep as its export spells it: a float scalar (new exports), int64 [1] (old ones), or one per row. */
function timestepTensor(unet: ModelSession, t: number, rows: number): ort.Tensor {
  const { type, shape } = tensorInput(unet, "timestep");
  const dims = shape.length === 0 ? [] : [fixedDim(unet, "timestep", 0) ?? rows];
  const count = dims.length === 0 ? 1 : dims[0]!;
  if (type === "int64") return new ort.Tensor("int64", new BigInt64Array(count).fill(BigInt(Math.round(t))), dims);
  if (type === "int32") return new ort.Tensor("int32", new Int32Array(count).fill(Math.round(t)), dims);
  if (type === "float32") return new ort.Tensor("float32", new Float32Array(count).fill(t), dims);
  if (type === "float16") return new ort.Tensor("float16", halves(new Float32Array(count).fill(t)), dims);
  throw new DiffusionModelError(`the UNet's timestep is ${type}; a float or integer was expected`);
}

/** float16 bits, as onnxruntime takes them. */
function halves(data: Float32Array): Uint16Array {
  const half = new Float16Array(data);
  return new Uint16Array(half.buffer, half.byteOffset, half.length);
}

/** An output as float32 (float16 outputs widened). */
function floats(t: ort.Tensor): Float32Array {
  if (t.type === "float32") return t.data as Float32Array;
  if (t.type === "float16") {
    const data = t.data as Float16Array | Uint16Array;
    return Float32Array.from(data instanceof Uint16Array ? new Float16Array(data.buffer, data.byteOffset, data.length) : data);
  }
  throw new DiffusionModelError(`an output is ${t.type}; float32 or float16 was expected`);
}

function concatRows(rows: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

function repeat(data: Float32Array, times: number): Float32Array {
  return concatRows(Array.from({ length: times }, () => data));
}

/** [tokens, a] and [tokens, b] side by side: [tokens, a + b]. */
function concatLastDim(parts: { data: Float32Array; width: number }[], tokens: number): Float32Array {
  if (parts.length === 1) return parts[0]!.data;
  const width = parts.reduce((n, p) => n + p.width, 0);
  const out = new Float32Array(tokens * width);
  for (let t = 0; t < tokens; t++) {
    let at = t * width;
    for (const p of parts) {
      out.set(p.data.subarray(t * p.width, (t + 1) * p.width), at);
      at += p.width;
    }
  }
  return out;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function text(file: Buffer): string {
  return file.toString("utf8");
}

function json(file: Buffer, name: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text(file)) as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Said below.
  }
  throw new DiffusionModelError(`${name} is not a JSON object`);
}

