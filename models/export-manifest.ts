import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { API_VERSION, IMAGEMODEL_KIND, type ImageModel, type ModelParam } from "../common/crd-types.js";
import { SAMPLERS } from "../common/diffusion-samplers.js";
import { EXPORT_INDEX } from "../common/model-export.js";

/** The params of a diffusion ImageModel (worker/inference/pipelines/diffusion.ts reads them); defaults suit SDXL. */
export const DIFFUSION_PARAMS: ModelParam[] = [
  { name: "prompt", type: "string", description: "what to draw" },
  { name: "negative_prompt", type: "string", description: "what to steer away from (with guidance_scale above 1)" },
  { name: "seed", type: "integer", min: 0, description: "the noise; the same seed and params give the same bytes. Drawn at random (and told in the output's notes) when absent" },
  { name: "steps", type: "integer", min: 1, max: 150, default: 30, description: "denoising steps (Turbo and LCM models: 1 to 4)" },
  { name: "guidance_scale", type: "number", min: 0, max: 30, default: 5, description: "classifier-free guidance; 1 or less turns it off (Turbo: 0)" },
  { name: "width", type: "integer", min: 64, max: 2048, description: "a multiple of 8; the model's own size when absent (image-to-image: the input's)" },
  { name: "height", type: "integer", min: 64, max: 2048, description: "a multiple of 8; the model's own size when absent (image-to-image: the input's)" },
  { name: "scheduler", type: "string", default: "euler", enum: [...SAMPLERS], description: "the sampler (dpmpp-2m-karras: DPM-Solver++ 2M with Karras sigmas; lcm: for LCM models); the noise schedule is the export's own" },
  { name: "strength", type: "number", min: 0.01, max: 1, default: 0.6, description: "image-to-image: how much of the schedule runs over the input" },
  { name: "preview_every", type: "integer", min: 0, max: 150, default: 0, description: "a small preview on the job's events every this many steps; 0: none" },
];

/** Files a diffusion export must have for each task (the pipeline's own list is in worker/inference/pipelines/diffusion.ts). */
const REQUIRED = ["scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json", "text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx"];

/** The most files an ImageModel may list (the CRD's spec.components maxProperties). */
export const MAX_COMPONENTS = 32;

export interface ExportManifestOptions {
  name: string;
  task: "text-to-image" | "image-to-image";
  /** Where the folder's files will be (s3://bucket/prefix/, https://host/path/, file:///path/), ending with '/'. */
  source: string;
  license?: string;
  params?: ModelParam[];
  /** False: list the folder as it is, without checking the files the task needs (the worker then fails jobs naming what is missing). */
  check?: boolean;
}

/**
 * The ImageModel of a Hugging Face Optimum diffusion export in `dir`: spec.source is the folder
 * where its files are uploaded, pinned by model_index.json's sha256, and spec.components lists
 * every other file by its path in the folder with its sha256 (read as a stream: a UNet's weights
 * are gigabytes). Throws with what is missing or too much.
 */
export async function exportManifest(dir: string, opts: ExportManifestOptions): Promise<ImageModel> {
  if (!opts.source.endsWith("/")) throw new Error(`the source ${opts.source} must end with '/': it is the folder the export's files are in`);
  const hashes = new Map<string, string>();
  for (const path of await exportFiles(dir)) hashes.set(path, await sha256Of(join(dir, path)));
  const index = hashes.get(EXPORT_INDEX);
  if (!index) throw new Error(`${dir} has no ${EXPORT_INDEX}: it is not a diffusers/Optimum export folder`);
  const required = [...REQUIRED, ...(opts.task === "image-to-image" ? ["vae_encoder/model.onnx"] : [])];
  if (hashes.has("text_encoder_2/model.onnx")) required.push("tokenizer_2/vocab.json", "tokenizer_2/merges.txt", "tokenizer_2/tokenizer_config.json");
  const missing = required.filter((path) => !hashes.has(path));
  if (missing.length && opts.check !== false) throw new Error(`${dir} lacks ${missing.join(", ")}`);
  hashes.delete(EXPORT_INDEX);
  if (hashes.size > MAX_COMPONENTS) {
    throw new Error(`${dir} has ${hashes.size} files besides ${EXPORT_INDEX}; an ImageModel lists at most ${MAX_COMPONENTS}: leave out what the pipeline does not read (safety_checker/, feature_extractor/, README files)`);
  }
  return {
    apiVersion: API_VERSION, kind: IMAGEMODEL_KIND, metadata: { name: opts.name },
    spec: {
      task: opts.task,
      source: { uri: opts.source, sha256: index },
      components: Object.fromEntries([...hashes].sort(([a], [b]) => a.localeCompare(b)).map(([path, sha256]) => [path, { sha256 }])),
      output: { kind: "image" },
      params: opts.params ?? DIFFUSION_PARAMS,
      ...(opts.license ? { license: opts.license } : {}),
    },
  };
}

/** The files of an export folder, by their '/'-separated paths in it; dot files (.gitattributes, a hub's .cache) are not the export's. */
export async function exportFiles(dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/");
    if (!path.split("/").some((part) => part.startsWith("."))) paths.push(path);
  }
  return paths;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}
