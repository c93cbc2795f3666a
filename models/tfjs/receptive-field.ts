import { z } from "zod";
import { TfjsModelJson } from "./model-json.js";

const pair = z.union([z.number().int().positive().transform((n) => [n, n] as const), z.tuple([z.number().int().positive(), z.number().int().positive()])]);
const Conv2D = z.object({ kernel_size: pair, strides: pair.default([1, 1]), dilation_rate: z.union([z.number(), z.tuple([z.number(), z.number()])]).default(1) });
const UpSampling2D = z.object({ size: pair.default([2, 2]) });
/** Layers that combine or map their inputs pixel by pixel: they add no context. */
const POINTWISE = new Set(["Activation", "ReLU", "Add", "Concatenate", "MultiplyBeta"]);

interface Reach {
  /** How far, in input pixels, an output pixel of this layer may depend on the input (each side). */
  radius: number;
  /** This layer's resolution in input pixels (2 after a 2x upsampling). */
  scale: number;
}

/**
 * The receptive-field radius of a TF.js layers model, in input pixels: output pixels depend only on
 * input pixels at most this far away (each axis). A tiled run whose tiles overlap by twice this
 * radius, each keeping its output up to the middle of the overlap, equals the untiled run.
 *
 * A k×k convolution at resolution s (after upsampling by s) reaches ⌊k/2⌋ pixels there, which is
 * at most ⌈⌊k/2⌉/s⌉ input pixels away from the input pixel it sits in; summing these bounds
 * along the deepest path gives an upper bound. Strided convolutions are not supported.
 */
export function receptiveRadius(modelJson: unknown): number {
  const { layers, output_layers } = TfjsModelJson.parse(modelJson).modelTopology.model_config.config;
  const reach = new Map<string, Reach>();
  for (const layer of layers) {
    const name = layer.config.name;
    const from = layer.inbound_nodes.flat().map(([n]) => reach.get(n) ?? { radius: 0, scale: 1 });
    const radius = Math.max(0, ...from.map((r) => r.radius));
    const scale = from[0]?.scale ?? 1;
    if (layer.class_name === "InputLayer" || POINTWISE.has(layer.class_name)) {
      reach.set(name, { radius, scale });
    } else if (layer.class_name === "Conv2D") {
      const c = Conv2D.parse(layer.config);
      const dilation = Math.max(...[c.dilation_rate].flat());
      if (c.strides[0] !== 1 || c.strides[1] !== 1) throw new Error(`layer ${name}: strided convolutions are not supported`);
      const k = Math.floor((Math.max(...c.kernel_size) - 1) / 2) * dilation;
      reach.set(name, { radius: radius + Math.ceil(k / scale), scale });
    } else if (layer.class_name === "UpSampling2D") {
      reach.set(name, { radius, scale: scale * Math.max(...UpSampling2D.parse(layer.config).size) });
    } else if (/^PixelShuffle(\d+)x$/.test(layer.class_name)) {
      reach.set(name, { radius, scale: scale * Number(/^PixelShuffle(\d+)x$/.exec(layer.class_name)![1]) });
    } else {
      throw new Error(`layer ${name} (${layer.class_name}): its receptive field is not known`);
    }
  }
  return reach.get(output_layers[0]![0])!.radius;
}
