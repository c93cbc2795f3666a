import type { ImageJobBatchSpec } from "../../common/crd-types.js";
import { PUBLIC_ONLY, refuseUrlHost } from "../../common/address-policy.js";
import { outputsPrefix, refuseInput, uploadsPrefix } from "../../common/job/input-access.js";
import { refuseBucket } from "../../common/job/input-grants.js";
import { parseInputUri, type InputUri } from "../../common/job/input-uri.js";
import { InvalidJobError } from "./errors.js";

/** What a batch's inputs are checked against: the same rules as one job's input (submit-job.ts). */
export interface BatchInputRules {
  namespace: string;
  /** storeRoot of the platform's store (`s3://bucket/prefix/`), undefined for a file store. */
  root: string | undefined;
  /** INPUT_BUCKETS (else the store's bucket). */
  allowed: ReadonlySet<string>;
  /** The buckets granted to the namespace; read once per batch, and only when an item names a bucket INPUT_BUCKETS allows. */
  granted: () => Promise<readonly string[]>;
}

/** The most items a batch counts against the tenant's active jobs before the operator has listed its prefix (api/domain/limits.ts). */
export const UNEXPANDED_PREFIX_ITEMS = 1;

/** How many items the batch counts against the tenant's caps at submit: its list's length, or 1 for a prefix not yet listed. */
export function batchItemCount(batch: ImageJobBatchSpec): number {
  return batch.inputs?.length ?? UNEXPANDED_PREFIX_ITEMS;
}

/**
 * InvalidJobError when an item (or the prefix) is one a single job could not name: another
 * namespace's upload or platform area, a bucket outside INPUT_BUCKETS or not granted, an https://
 * host that is a non-public address. The message names the item's index. Unlike a single job, an
 * upload: item is not looked up in storage here (10,000 HEADs): a missing one fails as its own item.
 */
export async function checkBatchInputs(batch: ImageJobBatchSpec, rules: BatchInputRules): Promise<void> {
  const s3: Array<{ at: string; input: Extract<InputUri, { scheme: "s3" }> }> = [];
  const items = batch.inputs ?? [];
  for (let i = 0; i < items.length; i++) {
    const at = `batch item ${i} (${items[i]!})`;
    const forbidden = refuseUrlHost(PUBLIC_ONLY, items[i]!);
    if (forbidden) throw new InvalidJobError(`${at}: ${forbidden}`);
    const input = parseInputUri(items[i]!);
    // Malformed items were refused with their index by the request's schema (api/http/job-request.ts).
    if ("problem" in input) throw new InvalidJobError(`${at}: ${input.problem}`);
    const refused = refuseInput(input, rules.namespace, rules.root);
    if (refused) throw new InvalidJobError(`${at}: ${refused}`);
    if (input.scheme === "s3") s3.push({ at, input });
  }
  if (batch.prefix !== undefined) {
    const at = `batch prefix ${batch.prefix}`;
    const prefix = parsePrefix(batch.prefix);
    if ("problem" in prefix) throw new InvalidJobError(`${at}: ${prefix.problem}`);
    const refused = refusePrefix(prefix, rules);
    if (refused) throw new InvalidJobError(`${at}: ${refused}`);
    if (prefix.scheme === "s3") s3.push({ at, input: prefix });
  }
  await checkBuckets(s3, rules);
}

/** INPUT_BUCKETS first (no apiserver read for a bucket it refuses), then the namespace's grants, read once. */
async function checkBuckets(items: ReadonlyArray<{ at: string; input: Extract<InputUri, { scheme: "s3" }> }>, rules: BatchInputRules): Promise<void> {
  if (items.length === 0) return;
  const rule = { allowed: rules.allowed, root: rules.root };
  const seen = new Set<string>();
  const distinct = items.filter(({ input }) => !seen.has(input.bucket) && seen.add(input.bucket));
  for (const { at, input } of distinct) {
    const unlisted = refuseBucket(input, rules.namespace, { ...rule, granted: undefined });
    if (unlisted) throw new InvalidJobError(`${at}: ${unlisted}`);
  }
  const granted = await rules.granted();
  for (const { at, input } of items) {
    const ungranted = refuseBucket(input, rules.namespace, { ...rule, granted });
    if (ungranted) throw new InvalidJobError(`${at}: ${ungranted}`);
  }
}

type StoredInput = Exclude<InputUri, { scheme: "https" }>;

function parsePrefix(prefix: string): StoredInput | { problem: string } {
  // A prefix is parsed as an input with a placeholder name after it, so it obeys the same key and bucket rules.
  const parsed = parseInputUri(`${prefix}x`);
  if ("problem" in parsed) return { problem: "must look like s3://<bucket>/<path>/ or upload:<path>/, ending in '/'" };
  if (parsed.scheme === "https") return { problem: "must be an s3:// or upload: prefix" };
  return { ...parsed, key: parsed.key.slice(0, -1) };
}

/**
 * A prefix lists every object under it, so it must lie inside what the namespace may read: its own
 * uploads for upload:, and for s3:// in the platform's store its own uploads or outputs, never a
 * folder above them (the store's root, `uploads/`) whose listing would reach other namespaces'.
 */
function refusePrefix(prefix: StoredInput, rules: BatchInputRules): string | undefined {
  if (prefix.scheme === "upload") {
    return prefix.key.startsWith(uploadsPrefix(rules.namespace)) ? undefined : `is not under namespace ${rules.namespace}'s uploads (upload:uploads/${rules.namespace}/...)`;
  }
  const uri = `s3://${prefix.bucket}/${prefix.key}`;
  if (rules.root === undefined || !(uri.startsWith(rules.root) || rules.root.startsWith(uri))) return undefined;
  const key = uri.startsWith(rules.root) ? uri.slice(rules.root.length) : "";
  if (key.startsWith(uploadsPrefix(rules.namespace)) || key.startsWith(outputsPrefix(rules.namespace))) return undefined;
  const platformAreas = ["uploads/", "outputs/", "models/"];
  if (platformAreas.some((area) => key.startsWith(area) || area.startsWith(key))) {
    return `lists the platform's storage beyond namespace ${rules.namespace}'s uploads and outputs`;
  }
  return refuseInput({ scheme: "s3", bucket: prefix.bucket, key: `${prefix.key}x` }, rules.namespace, rules.root);
}
