import { blur } from "./blur.js";
import { grayscale } from "./grayscale.js";
import { ocrFile } from "./ocr.js";
import { resizeX2 } from "./resize-x2.js";
import { textDetect } from "./text-detect.js";
import { esrganSlim, esrganThick } from "./upscale-esrgan.js";

/**
 * The models a `builtin:<name>` source names, as ONNX bytes built by code in this folder.
 * Adding a builtin graph is code; adding any other model is only an ImageModel manifest.
 */
const BUILTINS: Record<string, () => Uint8Array | Promise<Uint8Array>> = {
  "resize-x2": resizeX2,
  grayscale,
  blur,
  "text-detect": textDetect,
  "upscale-x2": () => esrganSlim(2),
  "upscale-x3": () => esrganSlim(3),
  "upscale-x4": () => esrganSlim(4),
  "upscale-x8": () => esrganSlim(8),
  "upscale-x2-hq": () => esrganThick(2),
  "upscale-x3-hq": () => esrganThick(3),
  "upscale-x4-hq": () => esrganThick(4),
  "upscale-x8-hq": () => esrganThick(8),
  "ocr-detector": () => ocrFile("ocr-detector"),
  "ocr-classifier": () => ocrFile("ocr-classifier"),
  "ocr-recognizer": () => ocrFile("ocr-recognizer"),
  "ocr-charset": () => ocrFile("ocr-charset"),
};

export function builtinNames(): string[] {
  return Object.keys(BUILTINS);
}

/** The bytes of a builtin model, or undefined when there is no builtin of that name. */
export async function builtinModel(name: string): Promise<Uint8Array | undefined> {
  const build = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
  return build ? await build() : undefined;
}
