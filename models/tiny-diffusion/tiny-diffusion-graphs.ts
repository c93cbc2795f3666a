import type onnxProto from "onnx-proto";
import { FLOAT, INT64, encodeModel, floatTensor, int64Tensor, node, valueInfo, type GraphParts } from "../onnx-builder.js";
import { NoiseRng } from "../../worker/inference/diffusion/rng.js";

/**
 * Tiny stand-ins for the graphs of a Hugging Face Optimum diffusion export, with the real
 * interface: input and output names, element types and ranks as Optimum writes them, fixed
 * sizes where the real models fix them (77 token positions through a position table, 4 latent
 * channels, 6 time ids, a VAE that scales by 8), and small widths elsewhere. Weights are seeded
 * random numbers; the graphs compute something of every input, so a feed of the wrong shape
 * fails as it would on the real model.
 */

const INT32 = 6; // onnx TensorProto.DataType.INT32

export interface TextEncoderSpec {
  vocab: number;
  /** Token positions of the position table (77 in CLIP). */
  context: number;
  hidden: number;
  layers: number;
  /** Outputs hidden_states.0..layers (SDXL's exports do; SD 1.5's do not). */
  hiddenStates: boolean;
  /** CLIPTextModelWithProjection (text_embeds) rather than CLIPTextModel (pooler_output). */
  projection?: number;
  ids: "int64" | "int32";
}

export interface UnetSpec {
  channels: number;
  /** Width of encoder_hidden_states: both encoders' hidden sizes for SDXL. */
  context: number;
  /** SDXL's added conditioning: text_embeds [B, this] and time_ids [B, 6]. */
  textEmbeds?: number;
  /** float: a float32 scalar (current Optimum); float1: float32 [1]; int64: int64 [1] (older exports). */
  timestep: "float" | "float1" | "int64";
}

export interface VaeSpec {
  channels: number;
  scale: number;
  /** The encoder's output: Optimum's latent_parameters (mean and log-variance, 2 × channels) or older latent_sample. */
  encoderOutput: "latent_parameters" | "latent_sample";
}

class Weights {
  private readonly rng: NoiseRng;
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];

  constructor(seed: number) {
    this.rng = new NoiseRng(seed);
  }

  /** Uniform in [-scale, scale]: small, so tanh layers stay in their linear range. */
  add(name: string, dims: number[], scale = 0.5): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.initializers.push(floatTensor(name, dims, Array.from({ length: n }, () => Math.fround((this.rng.nextFloat() * 2 - 1) * scale))));
    return name;
  }

  ints(name: string, values: number[]): string {
    this.initializers.push(int64Tensor(name, [values.length], values));
    return name;
  }
}

export function textEncoder(spec: TextEncoderSpec, seed: number, rename: Readonly<Record<string, string>> = {}): GraphParts {
  const w = new Weights(seed);
  const out = (name: string) => rename[name] ?? name;
  const nodes: onnxProto.onnx.INodeProto[] = [];
  let ids = "input_ids";
  if (spec.ids === "int32") {
    nodes.push(node("Cast", [ids], ["ids64"], { to: INT64 }));
    ids = "ids64";
  }
  nodes.push(node("Gather", [w.add("token_embedding", [spec.vocab, spec.hidden]), ids], ["token_embeds"]));
  // A fixed table of positions, as CLIP's: only `context` positions exist.
  const h0 = spec.hiddenStates ? out("hidden_states.0") : "h0";
  nodes.push(node("Add", ["token_embeds", w.add("position_embedding", [spec.context, spec.hidden])], [h0]));
  let h = h0;
  for (let l = 1; l <= spec.layers; l++) {
    const next = spec.hiddenStates ? out(`hidden_states.${l}`) : `h${l}`;
    nodes.push(node("MatMul", [h, w.add(`w${l}`, [spec.hidden, spec.hidden])], [`mm${l}`]));
    nodes.push(node("Add", [`mm${l}`, w.add(`b${l}`, [spec.hidden], 0.1)], [`pre${l}`]));
    nodes.push(node("Tanh", [`pre${l}`], [next]));
    h = next;
  }
  nodes.push(node("LayerNormalization", [h, w.add("ln_scale", [spec.hidden]), w.add("ln_bias", [spec.hidden], 0.1)], [out("last_hidden_state")], { axis: -1, epsilon: 1e-5 }, { epsilon: "float" }));
  nodes.push(node("ReduceMean", [out("last_hidden_state")], ["pooled"], { axes: [1], keepdims: 0 }));
  const seq = (name: string) => valueInfo(out(name), FLOAT, ["batch_size", "sequence_length", spec.hidden]);
  const outputs = [];
  if (spec.projection) {
    nodes.push(node("MatMul", ["pooled", w.add("text_projection", [spec.hidden, spec.projection])], [out("text_embeds")]));
    outputs.push(valueInfo(out("text_embeds"), FLOAT, ["batch_size", spec.projection]), seq("last_hidden_state"));
  } else {
    nodes.push(node("Identity", ["pooled"], [out("pooler_output")]));
    outputs.push(seq("last_hidden_state"), valueInfo(out("pooler_output"), FLOAT, ["batch_size", spec.hidden]));
  }
  if (spec.hiddenStates) for (let l = 0; l <= spec.layers; l++) outputs.push(seq(`hidden_states.${l}`));
  return {
    name: "tiny_clip_text",
    doc: "pixelmill test: tiny CLIP text encoder with Optimum's interface, random weights",
    nodes,
    initializers: w.initializers,
    inputs: [valueInfo("input_ids", spec.ids === "int64" ? INT64 : INT32, ["batch_size", "sequence_length"])],
    outputs,
  };
}

export function unet(spec: UnetSpec, seed: number, rename: Readonly<Record<string, string>> = {}): GraphParts {
  const w = new Weights(seed);
  const c = spec.channels;
  const nodes = [
    node("Conv", ["sample", w.add("conv_w", [c, c, 1, 1]), w.add("conv_b", [c], 0.1)], ["mixed"]),
    node(spec.timestep === "int64" ? "Cast" : "Identity", ["timestep"], ["t_float"], spec.timestep === "int64" ? { to: FLOAT } : {}),
    node("Reshape", ["t_float", w.ints("one", [1])], ["t1"]),
    node("Mul", ["t1", w.add("t_scale", [1], 0.001)], ["t_term"]),
    node("ReduceMean", ["encoder_hidden_states"], ["ctx_mean"], { axes: [1, 2], keepdims: 1 }),
    node("Unsqueeze", ["ctx_mean", w.ints("axis3", [3])], ["ctx4"]),
  ];
  let cond = "ctx4";
  const inputs = [
    valueInfo("sample", FLOAT, ["batch_size", c, "height", "width"]),
    valueInfo("timestep", spec.timestep === "int64" ? INT64 : FLOAT, spec.timestep === "float" ? [] : [1]),
    valueInfo("encoder_hidden_states", FLOAT, ["batch_size", "sequence_length", spec.context]),
  ];
  if (spec.textEmbeds) {
    inputs.push(valueInfo("text_embeds", FLOAT, ["batch_size", spec.textEmbeds]), valueInfo("time_ids", FLOAT, ["batch_size", 6]));
    nodes.push(
      node("ReduceMean", ["text_embeds"], ["te_mean"], { axes: [1], keepdims: 1 }),
      node("MatMul", ["time_ids", w.add("time_w", [6, 1], 0.001)], ["tid_term"]),
      node("Add", ["te_mean", "tid_term"], ["added"]),
      node("Unsqueeze", ["added", w.ints("axes23", [2, 3])], ["added4"]),
      node("Add", ["ctx4", "added4"], ["cond"]),
    );
    cond = "cond";
  }
  nodes.push(
    node("Mul", [cond, w.add("cond_scale", [1, c, 1, 1])], ["cond_term"]),
    node("Add", ["mixed", "cond_term"], ["with_cond"]),
    node("Add", ["with_cond", "t_term"], [rename.out_sample ?? "out_sample"]),
  );
  return {
    name: "tiny_unet",
    doc: "pixelmill test: tiny UNet2DConditionModel with Optimum's interface, random weights",
    nodes,
    initializers: w.initializers,
    inputs,
    outputs: [valueInfo(rename.out_sample ?? "out_sample", FLOAT, ["batch_size", c, "height", "width"])],
  };
}

/** latent_sample [B, C, h, w] → sample [B, 3, h·scale, w·scale]: a 1×1 mix to RGB, then a real Resize up. */
export function vaeDecoder(spec: VaeSpec, seed: number, rename: Readonly<Record<string, string>> = {}): GraphParts {
  const w = new Weights(seed);
  const out = rename.sample ?? "sample";
  return {
    name: "tiny_vae_decoder",
    doc: "pixelmill test: tiny AutoencoderKL decoder with Optimum's interface, random weights",
    nodes: [
      node("Conv", ["latent_sample", w.add("rgb_w", [3, spec.channels, 1, 1]), w.add("rgb_b", [3], 0.1)], ["rgb"]),
      node("Resize", ["rgb", "", "scales"], ["up"], { mode: "linear", coordinate_transformation_mode: "half_pixel" }),
      node("Tanh", ["up"], [out]),
    ],
    initializers: [...w.initializers, floatTensor("scales", [4], [1, 1, spec.scale, spec.scale])],
    inputs: [valueInfo("latent_sample", FLOAT, ["batch_size", spec.channels, "latent_height", "latent_width"])],
    outputs: [valueInfo(out, FLOAT, ["batch_size", 3, "height", "width"])],
  };
}

/** sample [B, 3, H, W] → latent_parameters [B, 2C, H/scale, W/scale] (or latent_sample [B, C, ...]). */
export function vaeEncoder(spec: VaeSpec, seed: number, rename: Readonly<Record<string, string>> = {}): GraphParts {
  const w = new Weights(seed);
  const channels = spec.encoderOutput === "latent_parameters" ? 2 * spec.channels : spec.channels;
  const out = rename[spec.encoderOutput] ?? spec.encoderOutput;
  return {
    name: "tiny_vae_encoder",
    doc: "pixelmill test: tiny AutoencoderKL encoder with Optimum's interface, random weights",
    nodes: [
      node("AveragePool", ["sample"], ["pooled"], { kernel_shape: [spec.scale, spec.scale], strides: [spec.scale, spec.scale] }),
      node("Conv", ["pooled", w.add("latent_w", [channels, 3, 1, 1]), w.add("latent_b", [channels], 0.1)], [out]),
    ],
    initializers: w.initializers,
    inputs: [valueInfo("sample", FLOAT, ["batch_size", 3, "sample_height", "sample_width"])],
    outputs: [valueInfo(out, FLOAT, ["batch_size", channels, "latent_height", "latent_width"])],
  };
}

/**
 * The model's bytes; with `externalData`, its float weights of EXTERNAL_THRESHOLD_BYTES or more go to that file instead (ONNX
 * external data, as exports over 2 GB keep them in model.onnx_data beside model.onnx).
 */
export const EXTERNAL_THRESHOLD_BYTES = 64;

export function serialise(parts: GraphParts, externalData?: string): { model: Uint8Array; data?: Buffer } {
  if (!externalData) return { model: encodeModel(parts) };
  const chunks: Buffer[] = [];
  let offset = 0;
  const initializers = (parts.initializers ?? []).map((t) => {
    // Small tensors stay inline, as with ONNX's convert_model_to_external_data (size_threshold,
    // 1 KiB there; 64 bytes here, so these tiny graphs' weights move too): a Resize's scales must,
    // since shape inference reads them before external data is loaded.
    if (!t.floatData?.length || t.floatData.length * 4 < EXTERNAL_THRESHOLD_BYTES) return t;
    const bytes = Buffer.from(Float32Array.from(t.floatData).buffer);
    const entry: onnxProto.onnx.ITensorProto = {
      name: t.name, dims: t.dims, dataType: t.dataType, dataLocation: 1,
      externalData: [{ key: "location", value: externalData }, { key: "offset", value: String(offset) }, { key: "length", value: String(bytes.length) }],
    };
    chunks.push(bytes);
    offset += bytes.length;
    return entry;
  });
  return { model: encodeModel({ ...parts, initializers }), data: Buffer.concat(chunks) };
}
