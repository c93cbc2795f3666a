import { blur } from "./blur.js";
import { grayscale } from "./grayscale.js";
import { textDetect } from "./text-detect.js";
import { upscaleX2 } from "./upscale-x2.js";

/**
 * The models a `builtin:<name>` source names, as ONNX bytes built by code in this folder.
 * Adding a builtin graph is code; adding any other model is only an ImageModel manifest.
 */
const BUILTINS: Record<string, () => Uint8Array | Promise<Uint8Array>> = {
  "upscale-x2": upscaleX2,
  grayscale,
  blur,
  "text-detect": textDetect,
};

export function builtinNames(): string[] {
  return Object.keys(BUILTINS);
}

/** The bytes of a builtin model, or undefined when there is no builtin of that name. */
export async function builtinModel(name: string): Promise<Uint8Array | undefined> {
  const build = Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
  return build ? await build() : undefined;
}
