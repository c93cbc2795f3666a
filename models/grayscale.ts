import { FLOAT, encodeModel, floatTensor, node, valueInfo } from "./onnx-builder.js";

/** ITU-R BT.601 luma weights. */
export const LUMA = { r: 0.299, g: 0.587, b: 0.114 } as const;

/**
 * ITU-R BT.601 luma, one output channel: Y = (0.299 R + 0.587 G) + 0.114 B. Separate Mul and Add
 * nodes (not a 1x1 Conv) fix the order of float32 operations, so a reference computed with
 * Math.fround in the same order matches bit for bit on any execution provider without FMA.
 */
export function grayscale(): Uint8Array {
  return encodeModel({
    name: "grayscale",
    doc: "pixelmill builtin grayscale: BT.601 luma, NCHW float32, 3 channels in, 1 out",
    nodes: [
      node("Split", ["image"], ["r", "g", "b"], { axis: 1 }),
      node("Mul", ["r", "wr"], ["r_w"]),
      node("Mul", ["g", "wg"], ["g_w"]),
      node("Mul", ["b", "wb"], ["b_w"]),
      node("Add", ["r_w", "g_w"], ["rg"]),
      node("Add", ["rg", "b_w"], ["output"]),
    ],
    initializers: [floatTensor("wr", [], [LUMA.r]), floatTensor("wg", [], [LUMA.g]), floatTensor("wb", [], [LUMA.b])],
    inputs: [valueInfo("image", FLOAT, ["N", 3, "H", "W"])],
    outputs: [valueInfo("output", FLOAT, ["N", 1, "H", "W"])],
  });
}
