import type { InputUri } from "./input-uri.js";

/**
 * Which inputs a job may read from the platform's own store. The store holds every namespace's
 * uploads and every job's outputs side by side, so without this rule a job could name another
 * job's upload (`upload:` keys, or the same object by `s3://`) or its output, and get it back as
 * its own result. A job reads only its namespace's uploads and outputs there; the rest of the
 * store's bucket (inputs a team keeps beside, say) stays readable under INPUT_BUCKETS as before.
 */
export const uploadsPrefix = (namespace: string): string => `uploads/${namespace}/`;
export const outputsPrefix = (namespace: string): string => `outputs/${namespace}/`;
/** Model files added through the API (POST /v1/models): never a job's input, not even its own namespace's. */
export const modelsPrefix = (namespace: string): string => `models/${namespace}/`;

/** The areas of the store the platform writes, for every namespace. */
const PLATFORM_AREAS = /^(uploads|outputs|models)\//;

/** `s3://bucket/prefix/` of an S3 store (from its uri()), or undefined for a file store. */
export function storeRoot(store: { uri(key: string): string }): string | undefined {
  const root = store.uri("k").slice(0, -1);
  return root.startsWith("s3://") ? root : undefined;
}

/** The key, within the platform's store, of an `s3://` object there; undefined for any other object. */
function storeKey(input: { bucket: string; key: string }, root: string | undefined): string | undefined {
  const uri = `s3://${input.bucket}/${input.key}`;
  return root !== undefined && uri.startsWith(root) ? uri.slice(root.length) : undefined;
}

/** True for a store key in the namespace's own uploads or outputs. */
function ownKey(key: string, namespace: string): boolean {
  return key.startsWith(uploadsPrefix(namespace)) || key.startsWith(outputsPrefix(namespace));
}

/** True for an `s3://` object in the namespace's own uploads or outputs in the platform's store. */
export function inOwnArea(input: { bucket: string; key: string }, namespace: string, root: string | undefined): boolean {
  const key = storeKey(input, root);
  return key !== undefined && ownKey(key, namespace);
}

/** Why a job in `namespace` may not read `input`, or undefined when it may. `root`: storeRoot of the platform's store. */
export function refuseInput(input: InputUri, namespace: string, root: string | undefined): string | undefined {
  if (input.scheme === "upload") {
    return input.key.startsWith(uploadsPrefix(namespace)) ? undefined : `upload:${input.key} is not an upload of namespace ${namespace} (uploads/${namespace}/...)`;
  }
  if (input.scheme !== "s3") return undefined;
  const key = storeKey(input, root);
  if (key === undefined || !PLATFORM_AREAS.test(key) || ownKey(key, namespace)) return undefined;
  return `s3://${input.bucket}/${input.key} is in the platform's storage, outside namespace ${namespace}'s uploads and outputs`;
}
