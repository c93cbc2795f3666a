import type { ImageModelSpec, ModelFileSource } from "./crd-types.js";

/**
 * A model whose spec.source is a folder (its URI ends with '/') is an export of several graphs
 * and data files, as Hugging Face Optimum writes a diffusion pipeline: spec.components lists its
 * files by their paths in the folder (unet/model.onnx, tokenizer/vocab.json), each pinned by its
 * sha256, and spec.source.sha256 pins the folder's model_index.json.
 */
export function isExportFolder(spec: Pick<ImageModelSpec, "source">): boolean {
  return spec.source.uri.endsWith("/");
}

/** The export's index file, pinned by spec.source.sha256. */
export const EXPORT_INDEX = "model_index.json";

/**
 * The file a component names: its own uri, or for an export folder its path under the folder;
 * undefined when the spec has no such component (or, outside an export, one without a uri).
 */
export function componentSource(spec: Pick<ImageModelSpec, "source" | "components">, name: string): ModelFileSource | undefined {
  if (isExportFolder(spec) && name === EXPORT_INDEX) return { uri: spec.source.uri + EXPORT_INDEX, sha256: spec.source.sha256 };
  const component = spec.components?.[name];
  if (!component) return undefined;
  if (component.uri) return { uri: component.uri, ...(component.sha256 ? { sha256: component.sha256 } : {}) };
  if (!isExportFolder(spec)) return undefined;
  return { uri: spec.source.uri + name.split("/").map(encodeURIComponent).join("/"), ...(component.sha256 ? { sha256: component.sha256 } : {}) };
}
