import picomatch from "picomatch";
import { DEFAULT_BATCH_GLOB } from "../../../common/batch.js";
import type { ImageJobBatchSpec } from "../../../common/crd-types.js";
import { refuseInput, uploadsPrefix } from "../../../common/job/input-access.js";
import { refuseBucket, type BucketRule } from "../../../common/job/input-grants.js";
import { parseInputUri, type InputUri } from "../../../common/job/input-uri.js";
import type { ObjectStore } from "../../../common/storage/index.js";

export interface ExpandDeps {
  /** The platform's store: `upload:` prefixes are listed here. */
  store: ObjectStore;
  /** The store of an `s3://` prefix's bucket (whole keys, no prefix of its own). */
  bucketStore: (bucket: string) => ObjectStore;
  /** The namespace's bucket grants, as a single job's input is checked. */
  rule: BucketRule;
  /** BATCH_MAX_ITEMS */
  maxItems: number;
}

export type Expansion = { inputs: string[] } | { invalid: string } | { tooLarge: string };

/**
 * A batch's input URIs, in order: the list as given, or the keys under the prefix that match the
 * glob, in key order (so a second expansion of the same objects gives the same indexes). Every
 * item obeys the rules a single job's input does; a listing stops as soon as it passes maxItems.
 */
export async function expandBatch(batch: ImageJobBatchSpec, namespace: string, deps: ExpandDeps): Promise<Expansion> {
  const root = deps.rule.root;
  if (batch.inputs) {
    if (batch.inputs.length > deps.maxItems) return { tooLarge: tooMany(batch.inputs.length, deps.maxItems) };
    for (const [i, uri] of batch.inputs.entries()) {
      const input = parseInputUri(uri);
      const problem = "problem" in input ? input.problem : refuseInput(input, namespace, root) ?? refuseBucket(input, namespace, deps.rule);
      if (problem) return { invalid: `spec.batch.inputs[${i}]: ${problem}` };
    }
    return { inputs: [...batch.inputs] };
  }
  const source = listingOf(batch.prefix ?? "", namespace, deps);
  if ("invalid" in source) return source;
  const matches = picomatch(batch.glob ?? DEFAULT_BATCH_GLOB);
  const inputs: string[] = [];
  for await (const key of source.store.list!(source.keyPrefix)) {
    if (!matches(key.slice(source.keyPrefix.length))) continue;
    const uri = source.uriOf(key);
    const input = parseInputUri(uri) as InputUri;
    // Objects of other namespaces' areas under a broad prefix are no inputs of this one.
    if ("problem" in input || refuseInput(input, namespace, root)) continue;
    inputs.push(uri);
    if (inputs.length > deps.maxItems) return { tooLarge: `more than ${deps.maxItems} objects under ${batch.prefix} match; at most ${deps.maxItems} items (BATCH_MAX_ITEMS)` };
  }
  if (inputs.length === 0) return { invalid: `no object under ${batch.prefix} matches ${batch.glob ?? DEFAULT_BATCH_GLOB}` };
  return { inputs };
}

function tooMany(count: number, max: number): string {
  return `${count} items; a batch has at most ${max} (BATCH_MAX_ITEMS)`;
}

interface Listing {
  store: ObjectStore;
  keyPrefix: string;
  uriOf: (key: string) => string;
}

function listingOf(prefix: string, namespace: string, deps: ExpandDeps): Listing | { invalid: string } {
  if (prefix.startsWith("upload:")) {
    const keyPrefix = prefix.slice("upload:".length);
    if (!keyPrefix.startsWith(uploadsPrefix(namespace))) return { invalid: `spec.batch.prefix ${prefix} is not under namespace ${namespace}'s uploads (upload:${uploadsPrefix(namespace)}...)` };
    return withList({ store: deps.store, keyPrefix, uriOf: (key) => `upload:${key}` });
  }
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(prefix);
  if (!match) return { invalid: `spec.batch.prefix ${prefix} is not an s3://<bucket>/<path>/ or upload:<path>/ prefix` };
  const [, bucket, keyPrefix] = match as unknown as [string, string, string];
  const refused = refuseBucket({ scheme: "s3", bucket, key: keyPrefix || "k" }, namespace, deps.rule);
  if (refused) return { invalid: `spec.batch.prefix: ${refused}` };
  return withList({ store: deps.bucketStore(bucket), keyPrefix, uriOf: (key) => `s3://${bucket}/${key}` });
}

function withList(listing: Listing): Listing | { invalid: string } {
  return listing.store.list ? listing : { invalid: "this storage cannot list a prefix" };
}
