import { FLOAT, encodeModel, floatTensor, node, valueInfo } from "./onnx-builder.js";

/**
 * 2x upscaling by bilinear interpolation (ONNX Resize, mode linear, half_pixel coordinates):
 * output pixel (x, y) samples the input at ((x + 0.5) / 2 - 0.5, (y + 0.5) / 2 - 0.5), sample
 * positions outside the image clamped to its edge. Each output value is a weighted mean of four
 * input values with weights in {1, 3, 9}/16; with 0..255 inputs the float32 arithmetic is exact.
 */
export function resizeX2(): Uint8Array {
  return encodeModel({
    name: "resize_x2",
    doc: "pixelmill builtin resize-x2: bilinear 2x Resize, half_pixel, NCHW float32",
    nodes: [
      node("Resize", ["image", "", "scales"], ["output"], { mode: "linear", coordinate_transformation_mode: "half_pixel" }),
    ],
    initializers: [floatTensor("scales", [4], [1, 1, 2, 2])],
    inputs: [valueInfo("image", FLOAT, ["N", 3, "H", "W"])],
    outputs: [valueInfo("output", FLOAT, ["N", 3, "H2", "W2"])],
  });
}
