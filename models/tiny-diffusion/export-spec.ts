import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ImageModelSpec } from "../../common/crd-types.js";
import { EXPORT_INDEX } from "../../common/model-export.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { DIFFUSION_PARAMS, exportFiles, exportManifest } from "../export-manifest.js";

/**
 * The ImageModel spec of an export folder at `base` (a file:// URL of `dir` unless given, ending
 * with '/'), as `pixelmill models manifest-export` writes it. A malformed export (a test's) is
 * listed as it is: the worker is what must refuse it.
 */
export async function exportModelSpec(dir: string, task: "text-to-image" | "image-to-image", base = `${pathToFileURL(dir).href}/`): Promise<ImageModelSpec> {
  // Tiny images, for tiny tests: sizes from 8 up.
  const params = DIFFUSION_PARAMS.map((p) => (p.name === "width" || p.name === "height" ? { ...p, min: 8 } : p));
  return (await exportManifest(dir, { name: "m", task, source: base, license: "Apache-2.0", check: false, params })).spec;
}

/** Uploads an export folder under `prefix` of the store's bucket; returns the folder's URI (ending with '/'). */
export async function uploadExport(dir: string, store: ObjectStore, prefix: string): Promise<string> {
  for (const path of await exportFiles(dir)) await store.put(`${prefix}/${path}`, await readFile(join(dir, path)), { contentType: "application/octet-stream" });
  return store.uri(`${prefix}/${EXPORT_INDEX}`).slice(0, -EXPORT_INDEX.length);
}
