import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import type { TfjsModel } from "./convert.js";
import { TfjsModelJson } from "./model-json.js";

/** Reads DIR/model.json and the weight shards its manifest names (paths relative to DIR). */
export async function readTfjsModel(dir: string): Promise<TfjsModel> {
  const modelJson: unknown = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
  const parsed = TfjsModelJson.safeParse(modelJson);
  const paths = parsed.success ? parsed.data.weightsManifest.flatMap((g) => g.paths) : [];
  const shards: Record<string, Uint8Array> = {};
  for (const path of paths) {
    if (isAbsolute(path) || normalize(path).startsWith("..")) throw new Error(`weight shard ${path} is outside ${dir}`);
    shards[path] = await readFile(join(dir, path));
  }
  return { modelJson, shards };
}

/**
 * A folder inside an installed npm package whose exports name only code (as the @upscalerjs model
 * packages do: their model.json files sit beside that code, under the package root).
 */
export function packageFolder(pkg: string, path: string): string {
  let root = dirname(createRequire(import.meta.url).resolve(pkg));
  while (!root.endsWith(`${sep}${pkg.split("/").join(sep)}`)) {
    if (dirname(root) === root) throw new Error(`cannot find the root of package ${pkg}`);
    root = dirname(root);
  }
  return join(root, path);
}
