import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { convertTfjsLayers } from "./tfjs/convert.js";
import { packageFolder, readTfjsModel } from "./tfjs/read.js";
import { receptiveRadius } from "./tfjs/receptive-field.js";

/** The scales @upscalerjs/esrgan-slim ships (MIT; TF.js layers models under models/x<scale>). */
export const ESRGAN_SLIM_SCALES = [2, 3, 4, 8] as const;
export type EsrganSlimScale = (typeof ESRGAN_SLIM_SCALES)[number];

function folder(scale: EsrganSlimScale): string {
  return packageFolder("@upscalerjs/esrgan-slim", `models/x${scale}`);
}

/**
 * The trained ESRGAN-slim super-resolution network (an RDN: 0..255 RGB in, `scale` times larger
 * 0..255 RGB out), converted from the package's TF.js files to ONNX when first used
 * (models/tfjs/convert.ts, ADR 0014). Same package files, same bytes.
 */
export async function esrganSlim(scale: EsrganSlimScale): Promise<Uint8Array> {
  return convertTfjsLayers(await readTfjsModel(folder(scale)), `esrgan_slim_x${scale}`);
}

/** How far, in input pixels, one output pixel of the ×`scale` network looks (models/tfjs/receptive-field.ts). */
export async function esrganSlimRadius(scale: EsrganSlimScale): Promise<number> {
  return receptiveRadius(JSON.parse(await readFile(join(folder(scale), "model.json"), "utf8")));
}
