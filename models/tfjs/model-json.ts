import { z } from "zod";

/**
 * The parts of a TF.js layers model's `model.json` the converter reads (Keras 2 topology, as the
 * TF.js converter writes it). Anything else in the file is ignored.
 */
const Inbound = z.tuple([z.string(), z.number(), z.number()]).rest(z.unknown());

const Layer = z.object({
  class_name: z.string(),
  name: z.string().optional(),
  config: z.record(z.string(), z.unknown()).and(z.object({ name: z.string() })),
  inbound_nodes: z.array(z.array(Inbound)).default([]),
});
export type TfjsLayer = z.infer<typeof Layer>;

const ModelConfig = z.object({
  class_name: z.literal("Functional").or(z.literal("Model")),
  config: z.object({
    layers: z.array(Layer).min(1),
    input_layers: z.array(Inbound).length(1, "one input"),
    output_layers: z.array(Inbound).length(1, "one output"),
  }),
});

const WeightSpec = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.string(),
  quantization: z.unknown().optional(),
});
export type WeightSpec = z.infer<typeof WeightSpec>;

const WeightGroup = z.object({ paths: z.array(z.string()).min(1), weights: z.array(WeightSpec) });
export type WeightGroup = z.infer<typeof WeightGroup>;

export const TfjsModelJson = z.object({
  format: z.literal("layers-model").optional(),
  // Older converters put the Keras config at the top of modelTopology, newer under model_config.
  modelTopology: z.union([z.object({ model_config: ModelConfig }), ModelConfig.transform((c) => ({ model_config: c }))]),
  weightsManifest: z.array(WeightGroup).default([]),
});
export type TfjsModelJson = z.infer<typeof TfjsModelJson>;
