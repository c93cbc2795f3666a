import { access, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ImageModel } from "../common/crd-types.js";
import { EXPORT_INDEX } from "../common/model-export.js";
import { DIFFUSION_PARAMS, exportManifest } from "../models/export-manifest.js";
import { writeTinyDiffusion } from "../models/tiny-diffusion/tiny-diffusion.js";

/** The demo text-to-image model of `npm run dev`. */
export const DEMO_DIFFUSION_MODEL = "tiny-sdxl";

/**
 * The dev stack's text-to-image demo, so "Generate" in the console works on a new machine with
 * no download: a tiny export with SDXL's interfaces (models/tiny-diffusion/) and seeded RANDOM
 * weights. It runs the real pipeline (tokenizers, text encoders, UNet steps, VAE) quickly on a CPU;
 * what it draws is noise, whatever the prompt. Written once under `stateDir` and reused; the
 * ImageModel points at it with a file:// source, which the dev stack's local workers read.
 */
export async function demoDiffusionModel(stateDir: string): Promise<{ model: ImageModel; reused: boolean }> {
  const dir = join(stateDir, DEMO_DIFFUSION_MODEL);
  const reused = await access(join(dir, EXPORT_INDEX)).then(() => true, () => false);
  if (!reused) {
    // Written aside and renamed: an interrupted write is never taken for a complete export.
    const partial = `${dir}.partial`;
    await writeTinyDiffusion(partial, { family: "sdxl" });
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  }
  // Small, quick defaults; the tiny graphs take any multiple of 8 from 64.
  const params = DIFFUSION_PARAMS.map((p) => p.name === "steps" ? { ...p, default: 8 }
    : p.name === "width" || p.name === "height" ? { ...p, default: 256 } : p);
  const model = await exportManifest(dir, {
    name: DEMO_DIFFUSION_MODEL, task: "text-to-image", source: `${pathToFileURL(dir).href}/`, license: "Apache-2.0", params,
  });
  model.spec.origin = { generated: "models/tiny-diffusion/tiny-diffusion.ts" };
  return { model, reused };
}
