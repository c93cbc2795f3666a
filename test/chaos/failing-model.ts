import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FLOAT, encodeModel, int64Tensor, node, valueInfo } from "../../models/onnx-builder.js";
import type { ImageModelSpec } from "../../common/crd-types.js";

/** The side of the square a Reshape forces every input into: no image the suite sends has 3×7×7 values. */
const FIXED = 7;

/**
 * A graph onnxruntime loads (the input's height and width are symbolic, so nothing is wrong at
 * load) but that fails on every run: it reshapes the image to 1×3×7×7, which only an image of
 * exactly 49 pixels fits. A model that throws, for real, without any test hook in the worker.
 */
export function failingModel(): Uint8Array {
  return encodeModel({
    name: "reshape-to-7x7",
    doc: "pixelmill test model: Reshape to a fixed 1x3x7x7, which fails at run time for any other size",
    nodes: [node("Reshape", ["image", "shape"], ["output"])],
    initializers: [int64Tensor("shape", [4], [1, 3, FIXED, FIXED])],
    inputs: [valueInfo("image", FLOAT, ["N", 3, "H", "W"])],
    outputs: [valueInfo("output", FLOAT, ["N", 3, "OH", "OW"])],
  });
}

/** Writes the graph into `dir` and returns the ImageModel spec that names it by `file://` and sha256. */
export async function writeFailingModel(dir: string): Promise<ImageModelSpec> {
  const bytes = failingModel();
  const path = join(dir, "reshape-to-7x7.onnx");
  await writeFile(path, bytes);
  return {
    source: { uri: `file://${path}`, sha256: createHash("sha256").update(bytes).digest("hex") },
    task: "image-to-image",
    input: { layout: "NCHW", colorOrder: "RGB", range: { min: 0, max: 1 } },
    output: { kind: "image", range: { min: 0, max: 1 } },
  };
}
