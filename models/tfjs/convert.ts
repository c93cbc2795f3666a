import { z } from "zod";
import type onnxProto from "onnx-proto";
import { FLOAT, encodeModel, floatTensor, node, valueInfo } from "../onnx-builder.js";
import { TfjsModelJson, type TfjsLayer } from "./model-json.js";
import { weightsByName } from "./weights.js";

/** A TF.js layers model as its files hold it: model.json, and each shard's bytes by its manifest path. */
export interface TfjsModel {
  modelJson: unknown;
  shards: Record<string, Uint8Array>;
}

/** What a layer adds to the graph; its output tensor is named after the layer. */
interface Converted {
  nodes: onnxProto.onnx.INodeProto[];
  initializers?: onnxProto.onnx.ITensorProto[];
  channels: number;
}

interface Ctx {
  layer: TfjsLayer;
  inputs: string[];
  channels: number[];
  weight(suffix: string, shape: number[]): Float32Array;
}

const pair = z.union([z.number().int().positive().transform((n) => [n, n] as const), z.tuple([z.number().int().positive(), z.number().int().positive()])]);
const channelsLast = z.literal("channels_last").optional();

const Conv2D = z.object({
  filters: z.number().int().positive(),
  kernel_size: pair,
  strides: pair.default([1, 1]),
  padding: z.enum(["same", "valid"]),
  dilation_rate: z.union([z.literal(1), z.tuple([z.literal(1), z.literal(1)])]).default(1),
  groups: z.literal(1).optional(),
  use_bias: z.boolean().default(true),
  activation: z.enum(["linear", "relu"]).default("linear"),
  data_format: channelsLast,
});

/**
 * TF.js layers model → ONNX model bytes (opset 17). The whole graph is NCHW: input and output
 * are [N, C, H, W] like every image model the worker runs, and Conv's native layout needs no
 * Transpose inside. Weights are looked up by name in the manifest.
 */
export function convertTfjsLayers(model: TfjsModel, graphName = "tfjs_model"): Uint8Array {
  const parsed = TfjsModelJson.safeParse(model.modelJson);
  if (!parsed.success) throw new Error(`model.json is not a TF.js layers model this converter reads: ${z.prettifyError(parsed.error)}`);
  const { layers, input_layers, output_layers } = parsed.data.modelTopology.model_config.config;
  const weights = weightsByName(parsed.data.weightsManifest, model.shards);
  const channels = new Map<string, number>();
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  let input: onnxProto.onnx.IValueInfoProto | undefined;
  for (const layer of layers) {
    const name = layer.config.name;
    if (layer.class_name === "InputLayer") {
      const [c, info] = inputOf(layer);
      input = info;
      channels.set(name, c);
      continue;
    }
    if (layer.inbound_nodes.length !== 1) throw new Error(`layer ${name} (${layer.class_name}) is called ${layer.inbound_nodes.length} times: only layers used once are supported`);
    const inputs = layer.inbound_nodes[0]!.map(([from, , index]) => {
      if (index !== 0 || !channels.has(from)) throw new Error(`layer ${name} (${layer.class_name}) reads ${from}[${index}], which is not an earlier layer's output`);
      return from;
    });
    const ctx: Ctx = { layer, inputs, channels: inputs.map((i) => channels.get(i)!), weight: (suffix, shape) => weightOf(weights, name, suffix, shape) };
    const converted = convertLayer(ctx);
    nodes.push(...converted.nodes);
    initializers.push(...(converted.initializers ?? []));
    channels.set(name, converted.channels);
  }
  const inputName = input_layers[0]![0];
  const outputName = output_layers[0]![0];
  if (!input || input.name !== inputName) throw new Error(`the model's input ${inputName} is not its InputLayer`);
  if (!channels.has(outputName)) throw new Error(`the model's output ${outputName} is not one of its layers`);
  return encodeModel({
    name: graphName,
    doc: "converted by pixelmill from a TF.js layers model (NHWC) to NCHW",
    nodes,
    initializers,
    inputs: [input],
    outputs: [valueInfo(outputName, FLOAT, ["N", channels.get(outputName)!, "H_out", "W_out"])],
  });
}

/** The graph input an InputLayer stands for: NHWC [null, H, W, C] becomes [N, C, H, W]. */
function inputOf(layer: TfjsLayer): [channels: number, onnxProto.onnx.IValueInfoProto] {
  const shape = z.tuple([z.null(), z.number().nullable(), z.number().nullable(), z.number().int().positive()]).safeParse(layer.config.batch_input_shape);
  if (!shape.success) throw new UnsupportedLayerError(layer, "batch_input_shape must be [null, H, W, C] (an NHWC image)");
  const [, h, w, c] = shape.data;
  return [c, valueInfo(layer.config.name, FLOAT, ["N", c, h ?? "H", w ?? "W"])];
}

function weightOf(weights: Map<string, Float32Array>, layer: string, suffix: string, shape: number[]): Float32Array {
  const want = `${layer}/${suffix}`;
  // Keras may prefix the model's name (`generator/F_0/kernel`): a unique match on the tail is the weight.
  const found = weights.get(want) ?? unique([...weights.keys()].filter((k) => k.endsWith(`/${want}`)), weights);
  if (!found) throw new Error(`layer ${layer}: no weight named ${want} in the manifest`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (found.length !== size) throw new Error(`layer ${layer}: weight ${want} has ${found.length} values, the layer needs [${shape.join(", ")}]`);
  return found;
}

function unique(keys: string[], weights: Map<string, Float32Array>): Float32Array | undefined {
  return keys.length === 1 ? weights.get(keys[0]!) : undefined;
}

function config<T extends z.ZodType>(ctx: Ctx, schema: T): z.infer<T> {
  const parsed = schema.safeParse(ctx.layer.config);
  if (!parsed.success) throw new UnsupportedLayerError(ctx.layer, z.prettifyError(parsed.error));
  return parsed.data;
}

/** A layer (or a layer setting) the converter has no mapping for; the message names the layer. */
export class UnsupportedLayerError extends Error {
  constructor(layer: TfjsLayer, why: string) {
    super(`layer ${layer.config.name} (${layer.class_name}) is not supported: ${why}`);
  }
}

const PIXEL_SHUFFLE = /^PixelShuffle(\d+)x$/;
/** RRDN's residual scaling, a custom layer of @upscalerjs/esrgan-thick: its config's `beta`, 0.2 in its JS. */
const MULTIPLY_BETA = 0.2;

function convertLayer(ctx: Ctx): Converted {
  const { layer, inputs, channels } = ctx;
  const out = layer.config.name;
  const one = (): string => {
    if (inputs.length !== 1) throw new UnsupportedLayerError(layer, `it has ${inputs.length} inputs, not 1`);
    return inputs[0]!;
  };
  const shuffle = PIXEL_SHUFFLE.exec(layer.class_name);
  if (shuffle) {
    const s = Number(shuffle[1]);
    if (channels[0]! % (s * s)) throw new UnsupportedLayerError(layer, `${channels[0]} channels do not split into ${s}×${s} blocks`);
    // TF's depth_to_space on NHWC reads channel (i·s + j)·C + c for block position (i, j): ONNX's DCR order.
    return { nodes: [node("DepthToSpace", [one()], [out], { blocksize: s, mode: "DCR" })], channels: channels[0]! / (s * s) };
  }
  switch (layer.class_name) {
    case "Conv2D":
      return conv2d(ctx, one());
    case "Activation": {
      const { activation } = config(ctx, z.object({ activation: z.enum(["linear", "relu"]) }));
      return { nodes: [node(activation === "relu" ? "Relu" : "Identity", [one()], [out])], channels: channels[0]! };
    }
    case "ReLU":
      config(ctx, z.object({ max_value: z.null().optional(), negative_slope: z.literal(0).optional(), threshold: z.literal(0).optional() }));
      return { nodes: [node("Relu", [one()], [out])], channels: channels[0]! };
    case "Add":
      if (inputs.length < 2) throw new UnsupportedLayerError(layer, "Add needs at least 2 inputs");
      return { nodes: [node(inputs.length === 2 ? "Add" : "Sum", inputs, [out])], channels: channels[0]! };
    case "Concatenate": {
      // Only the channel axis: NHWC's last is NCHW's 1.
      config(ctx, z.object({ axis: z.union([z.literal(3), z.literal(-1)]).default(-1) }));
      return { nodes: [node("Concat", inputs, [out], { axis: 1 })], channels: channels.reduce((a, b) => a + b, 0) };
    }
    case "UpSampling2D": {
      const { size } = config(ctx, z.object({ size: pair.default([2, 2]), interpolation: z.literal("nearest").default("nearest"), data_format: channelsLast }));
      const scales = `${out}/scales`;
      // Keras' nearest upsampling repeats each pixel: source index floor(dst / s), ONNX's asymmetric + floor.
      const attrs = { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" };
      return { nodes: [node("Resize", [one(), "", scales], [out], attrs)], initializers: [floatTensor(scales, [4], [1, 1, size[0], size[1]])], channels: channels[0]! };
    }
    case "MultiplyBeta": {
      const { beta } = config(ctx, z.object({ beta: z.number().default(MULTIPLY_BETA) }));
      const name = `${out}/beta`;
      return { nodes: [node("Mul", [one(), name], [out])], initializers: [floatTensor(name, [], [beta])], channels: channels[0]! };
    }
    default:
      throw new UnsupportedLayerError(layer, "no ONNX mapping for this layer class");
  }
}

function conv2d(ctx: Ctx, input: string): Converted {
  const c = config(ctx, Conv2D);
  const out = ctx.layer.config.name;
  const [kh, kw] = c.kernel_size;
  const cin = ctx.channels[0]!;
  const kernel = ctx.weight("kernel", [kh, kw, cin, c.filters]);
  const names = [input, `${out}/kernel`, ...(c.use_bias ? [`${out}/bias`] : [])];
  const initializers = [floatTensor(names[1]!, [c.filters, cin, kh, kw], hwioToOihw(kernel, kh, kw, cin, c.filters))];
  if (c.use_bias) initializers.push(floatTensor(names[2]!, [c.filters], [...ctx.weight("bias", [c.filters])]));
  // "same" pads like TF: the odd pixel goes after. With stride 1 that is fixed, so pads are explicit;
  // with a larger stride it depends on the input size, which SAME_UPPER computes the same way.
  const stride1 = c.strides[0] === 1 && c.strides[1] === 1;
  const [pt, pl] = [Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2)];
  const pad: Record<string, number[] | string> = c.padding === "valid" ? {} : stride1 ? { pads: [pt, pl, kh - 1 - pt, kw - 1 - pl] } : { auto_pad: "SAME_UPPER" };
  const convOut = c.activation === "relu" ? `${out}/conv` : out;
  const nodes = [node("Conv", names, [convOut], { kernel_shape: [kh, kw], strides: [...c.strides], ...pad })];
  if (c.activation === "relu") nodes.push(node("Relu", [convOut], [out]));
  return { nodes, initializers, channels: c.filters };
}

/** Keras kernels are [H, W, in, out]; ONNX Conv wants [out, in, H, W]. */
function hwioToOihw(k: Float32Array, kh: number, kw: number, cin: number, cout: number): number[] {
  const out = new Array<number>(k.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((o * cin + i) * kh + y) * kw + x] = k[((y * kw + x) * cin + i) * cout + o]!;
      }
    }
  }
  return out;
}
