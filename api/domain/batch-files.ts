import { ObjectNotFoundError } from "../../common/errors.js";
import { outputsPrefix } from "../../common/job/input-access.js";
import { readAll, type ObjectStore } from "../../common/storage/index.js";
import { parseManifest } from "./batch-items.js";

/**
 * The keys of a finished batch's item outputs, as its manifest lists them: only keys inside the
 * namespace's outputs/ (a manifest is not trusted to name another's). None when the manifest is
 * gone already (a sweep that deleted it, or a batch that ended without one).
 */
export async function batchItemOutputKeys(namespace: string, manifestKey: string, store: Pick<ObjectStore, "get" | "keyOf">): Promise<string[]> {
  let text: string;
  try {
    text = (await readAll((await store.get(manifestKey)).body)).toString("utf8");
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return [];
    throw err;
  }
  const keys: string[] = [];
  for (const item of parseManifest(text)) {
    const key = item.output?.uri === undefined ? undefined : store.keyOf(item.output.uri);
    if (key !== undefined && key.startsWith(outputsPrefix(namespace))) keys.push(key);
  }
  return keys;
}
