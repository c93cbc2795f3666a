import { FLOAT, encodeModel, floatTensor, int64Tensor, node, valueInfo } from "./onnx-builder.js";

/** Row 4 of Pascal's triangle: the binomial approximation of a Gaussian with sigma = 1. */
export const BINOMIAL_5 = [1, 4, 6, 4, 1] as const;
const RADIUS = 2;

/**
 * 5x5 Gaussian blur (binomial weights / 256, sigma ~= 1), each channel on its own (depthwise
 * Conv, group 3). The image is first extended by 2 pixels on every side by repeating its edge
 * pixels (Pad mode "edge"), so borders keep their brightness instead of fading to black as zero
 * padding would, and the output has the input's size. Weights are multiples of 1/256, so with
 * 0..255 inputs every float32 product and sum is exact.
 */
export function blur(): Uint8Array {
  return encodeModel({
    name: "blur",
    doc: "pixelmill builtin blur: 5x5 binomial (Gaussian sigma~1), edge padding, NCHW float32",
    nodes: [
      node("Pad", ["image", "pads"], ["padded"], { mode: "edge" }),
      node("Conv", ["padded", "kernel"], ["output"], { group: 3, kernel_shape: [5, 5] }),
    ],
    initializers: [
      int64Tensor("pads", [8], [0, 0, RADIUS, RADIUS, 0, 0, RADIUS, RADIUS]),
      floatTensor("kernel", [3, 1, 5, 5], kernelWeights()),
    ],
    inputs: [valueInfo("image", FLOAT, ["N", 3, "H", "W"])],
    outputs: [valueInfo("output", FLOAT, ["N", 3, "H", "W"])],
  });
}

/** The 5x5 kernel, row-major, repeated for the three channels. */
export function kernelWeights(): number[] {
  const one = BINOMIAL_5.flatMap((a) => BINOMIAL_5.map((b) => (a * b) / 256));
  return [...one, ...one, ...one];
}
