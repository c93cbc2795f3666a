import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tinyTokenizerFiles, TINY_VOCAB_SIZE } from "./tiny-clip.js";
import { serialise, textEncoder, unet, vaeDecoder, vaeEncoder, type TextEncoderSpec, type UnetSpec, type VaeSpec } from "./tiny-diffusion-graphs.js";

/**
 * A complete Hugging Face Optimum ONNX export of a diffusion pipeline, tiny: model_index.json,
 * scheduler/, tokenizer(s) (tiny-clip.ts), and each graph in <component>/model.onnx
 * with its config.json. The graphs (tiny-diffusion-graphs.ts) have the real interfaces and
 * seeded random weights, so a pipeline runs end to end in milliseconds and produces noise.
 */
export type TinyFamily = "sd15" | "sdxl" | "sdxl-turbo";
export type TinyComponent = "scheduler" | "tokenizer" | "tokenizer_2" | "text_encoder" | "text_encoder_2" | "unet" | "vae_encoder" | "vae_decoder";
export type TinyGraph = "text_encoder" | "text_encoder_2" | "unet" | "vae_encoder" | "vae_decoder";

export interface TinyDiffusionOptions {
  family: TinyFamily;
  /** Seeds the weights (each graph its own stream); the same options give the same bytes. */
  seed?: number;
  /** input_ids of the text encoders: int64 (current Optimum), int32 (some older exports). */
  inputIds?: "int64" | "int32";
  /** The UNet's timestep: "float" a float32 scalar (current), "float1" float32 [1], "int64" int64 [1] (older exports). */
  timestep?: UnetSpec["timestep"];
  vaeEncoderOutput?: VaeSpec["encoderOutput"];
  /** Graphs whose weights go to model.onnx_data beside model.onnx, as in exports over 2 GB. */
  externalData?: readonly TinyGraph[];
  /** Ways to break the export, for failure tests. */
  malformed?: {
    /** Component folders left out (model_index.json still lists them). */
    missing?: readonly TinyComponent[];
    /** Files (paths relative to the export) removed after writing, e.g. "tokenizer/merges.txt". */
    removeFiles?: readonly string[];
    /** Files (relative paths) replaced with this content: a corrupt model.onnx, a bad vocab.json, a scheduler config with unsupported values. */
    files?: Readonly<Record<string, string | Uint8Array>>;
    /** Latent channels of the UNet and VAE instead of 4. */
    latentChannels?: number;
    /** Token positions of the text encoders instead of 77: feeding 77 ids then fails. */
    contextLength?: number;
    /** The VAE's scale instead of 8. */
    vaeScale?: number;
    /** Outputs renamed, by graph: e.g. { unet: { out_sample: "sample" } }. */
    renameOutputs?: Partial<Record<TinyGraph, Readonly<Record<string, string>>>>;
  };
}

export interface TinyDiffusionExport {
  dir: string;
  family: TinyFamily;
  /** The component folders written. */
  components: TinyComponent[];
  /** Each text encoder's hidden width; the UNet's encoder_hidden_states width is their sum. */
  textHidden: number[];
  /** text_embeds width (text_encoder_2's projection), SDXL only. */
  textEmbeds?: number;
  latentChannels: number;
  vaeScale: number;
  /** vae config's scaling_factor: latents are divided by it before decoding. */
  scalingFactor: number;
}

const SCALED_LINEAR = { beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, num_train_timesteps: 1000, trained_betas: null, clip_sample: false, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1 };
const SDXL_EULER = { ...SCALED_LINEAR, interpolation_type: "linear", prediction_type: "epsilon", sample_max_value: 1.0, timestep_spacing: "leading", use_karras_sigmas: false };

/** What differs between the families; real widths in comments, ours small (and unequal, so code cannot assume them). */
const FAMILIES = {
  sd15: {
    pipeline: "StableDiffusionPipeline",
    scheduler: { _class_name: "PNDMScheduler", ...SCALED_LINEAR },
    encoders: [{ hidden: 16 /* 768 */, layers: 12, hiddenStates: false }],
    scalingFactor: 0.18215,
    sampleSize: 64,
  },
  sdxl: {
    pipeline: "StableDiffusionXLPipeline",
    scheduler: { _class_name: "EulerDiscreteScheduler", ...SDXL_EULER },
    encoders: [{ hidden: 8 /* 768 */, layers: 12, hiddenStates: true }, { hidden: 12 /* 1280 */, layers: 32, hiddenStates: true, projection: 12 /* 1280 */ }],
    scalingFactor: 0.13025,
    sampleSize: 128,
  },
  "sdxl-turbo": {
    pipeline: "StableDiffusionXLPipeline",
    scheduler: { _class_name: "EulerAncestralDiscreteScheduler", ...SDXL_EULER, timestep_spacing: "trailing" },
    encoders: [{ hidden: 8, layers: 12, hiddenStates: true }, { hidden: 12, layers: 32, hiddenStates: true, projection: 12 }],
    scalingFactor: 0.13025,
    sampleSize: 64,
  },
} as const;

export async function writeTinyDiffusion(dir: string, opts: TinyDiffusionOptions): Promise<TinyDiffusionExport> {
  const family = FAMILIES[opts.family];
  const bad = opts.malformed ?? {};
  const seed = opts.seed ?? 1;
  const channels = bad.latentChannels ?? 4;
  const scale = bad.vaeScale ?? 8;
  const xl = family.encoders.length === 2;
  const textHidden = family.encoders.map((e) => e.hidden);
  const second = family.encoders[1];
  const textEmbeds = second && "projection" in second ? second.projection : undefined;
  const files = new Map<string, string | Uint8Array>();
  const json = (path: string, value: unknown) => files.set(path, `${JSON.stringify(value, null, 2)}\n`);
  const graph = (name: TinyGraph, parts: Parameters<typeof serialise>[0]) => {
    const external = opts.externalData?.includes(name) ? "model.onnx_data" : undefined;
    const { model, data } = serialise(parts, external);
    files.set(`${name}/model.onnx`, model);
    if (data) files.set(`${name}/model.onnx_data`, data);
  };

  json("scheduler/scheduler_config.json", { ...family.scheduler, _diffusers_version: "0.30.0" });
  family.encoders.forEach((enc, i) => {
    const name = i === 0 ? "text_encoder" : "text_encoder_2";
    const tokenizer = i === 0 ? "tokenizer" : "tokenizer_2";
    // SDXL's second tokenizer pads with "!"; the first, and SD's only one, with eos.
    for (const [file, text] of Object.entries(tinyTokenizerFiles(i === 0 ? "eos" : "bang"))) files.set(`${tokenizer}/${file}`, text);
    const spec: TextEncoderSpec = { vocab: TINY_VOCAB_SIZE, context: bad.contextLength ?? 77, ids: opts.inputIds ?? "int64", ...enc };
    graph(name, textEncoder(spec, seed * 16 + i, bad.renameOutputs?.[name]));
    json(`${name}/config.json`, {
      architectures: ["projection" in enc ? "CLIPTextModelWithProjection" : "CLIPTextModel"], hidden_size: enc.hidden, num_hidden_layers: enc.layers,
      max_position_embeddings: spec.context, vocab_size: TINY_VOCAB_SIZE, ...("projection" in enc ? { projection_dim: enc.projection } : {}),
    });
  });
  const unetSpec: UnetSpec = { channels, context: textHidden.reduce((a, b) => a + b, 0), textEmbeds, timestep: opts.timestep ?? "float" };
  graph("unet", unet(unetSpec, seed * 16 + 2, bad.renameOutputs?.unet));
  json("unet/config.json", {
    _class_name: "UNet2DConditionModel", in_channels: channels, out_channels: channels, cross_attention_dim: unetSpec.context, sample_size: family.sampleSize,
    ...(xl ? { addition_embed_type: "text_time", addition_time_embed_dim: 1, projection_class_embeddings_input_dim: textEmbeds! + 6 } : {}),
  });
  const vae: VaeSpec = { channels, scale, encoderOutput: opts.vaeEncoderOutput ?? "latent_parameters" };
  graph("vae_decoder", vaeDecoder(vae, seed * 16 + 3, bad.renameOutputs?.vae_decoder));
  graph("vae_encoder", vaeEncoder(vae, seed * 16 + 4, bad.renameOutputs?.vae_encoder));
  const vaeConfig = {
    _class_name: "AutoencoderKL", in_channels: 3, out_channels: 3, latent_channels: channels, scaling_factor: family.scalingFactor,
    // The VAE scale is 2^(len(block_out_channels) - 1).
    block_out_channels: Array.from({ length: Math.log2(scale) + 1 }, (_, i) => 8 * 2 ** i), sample_size: family.sampleSize * 8,
  };
  json("vae_decoder/config.json", vaeConfig);
  json("vae_encoder/config.json", vaeConfig);

  const components = [...new Set([...files.keys()].map((p) => p.split("/")[0] as TinyComponent))];
  const library = (c: TinyComponent): [string, string] =>
    c === "scheduler" ? ["diffusers", family.scheduler._class_name]
      : c.startsWith("tokenizer") ? ["transformers", "CLIPTokenizer"]
        : c === "text_encoder" ? ["transformers", "CLIPTextModel"]
          : c === "text_encoder_2" ? ["transformers", "CLIPTextModelWithProjection"]
            : c === "unet" ? ["diffusers", "UNet2DConditionModel"] : ["diffusers", "AutoencoderKL"];
  json("model_index.json", {
    _class_name: family.pipeline, _diffusers_version: "0.30.0",
    ...(xl ? { force_zeros_for_empty_prompt: true } : { requires_safety_checker: false, safety_checker: [null, null], feature_extractor: [null, null] }),
    ...Object.fromEntries(components.map((c) => [c, library(c)])),
  });

  for (const missing of bad.missing ?? []) for (const path of [...files.keys()]) if (path.startsWith(`${missing}/`)) files.delete(path);
  for (const path of bad.removeFiles ?? []) files.delete(path);
  for (const [path, content] of Object.entries(bad.files ?? {})) files.set(path, content);
  await rm(dir, { recursive: true, force: true });
  for (const [path, content] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const written = components.filter((c) => !bad.missing?.includes(c));
  return { dir, family: opts.family, components: written, textHidden, textEmbeds, latentChannels: channels, vaeScale: scale, scalingFactor: family.scalingFactor };
}
