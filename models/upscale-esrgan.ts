import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { convertTfjsLayers } from "./tfjs/convert.js";
import { packageFolder, readTfjsModel } from "./tfjs/read.js";
import { receptiveRadius } from "./tfjs/receptive-field.js";

/** The ESRGAN packages the built-ins come from (MIT), each with TF.js layers models under models/x<scale>. */
const PACKAGES = { slim: "@upscalerjs/esrgan-slim", thick: "@upscalerjs/esrgan-thick" } as const;
export type EsrganSize = keyof typeof PACKAGES;

/** The scales both packages ship. */
export const ESRGAN_SCALES = [2, 3, 4, 8] as const;
export type EsrganScale = (typeof ESRGAN_SCALES)[number];

function folder(size: EsrganSize, scale: EsrganScale): string {
  return packageFolder(PACKAGES[size], `models/x${scale}`);
}

/**
 * The trained ESRGAN-slim super-resolution network (an RDN: 0..255 RGB in, `scale` times larger
 * 0..255 RGB out), converted from the package's TF.js files to ONNX when first used
 * (models/tfjs/convert.ts, ADR 0014). Same package files, same bytes.
 */
export async function esrganSlim(scale: EsrganScale): Promise<Uint8Array> {
  return convertTfjsLayers(await readTfjsModel(folder("slim", scale)), `esrgan_slim_x${scale}`);
}

/**
 * The ESRGAN-thick network of @upscalerjs/esrgan-thick (an RRDN of 154 convolutions, with the
 * package's MultiplyBeta and PixelShuffle layers): 0..1 RGB in, 0..1 out, unlike slim. Converted
 * when first used, like slim; about 29 MB of ONNX, and slow on CPU.
 */
export async function esrganThick(scale: EsrganScale): Promise<Uint8Array> {
  return convertTfjsLayers(await readTfjsModel(folder("thick", scale)), `esrgan_thick_x${scale}`);
}

/** How far, in input pixels, one output pixel of the network looks (models/tfjs/receptive-field.ts). */
export async function esrganRadius(size: EsrganSize, scale: EsrganScale): Promise<number> {
  return receptiveRadius(JSON.parse(await readFile(join(folder(size, scale), "model.json"), "utf8")));
}
