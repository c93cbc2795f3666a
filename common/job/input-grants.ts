import { inOwnArea } from "./input-access.js";
import { isBucketName, type InputUri } from "./input-uri.js";

/**
 * Which buckets a namespace's `s3://` inputs may come from (ADR 0007). INPUT_BUCKETS is the
 * platform-wide allow-list; of it, a namespace reads only the buckets its Namespace object grants
 * in this annotation, comma-separated. The platform admin sets it: a tenant with namespace-scoped
 * RBAC cannot edit its own Namespace, so the grant cannot be widened from inside the tenant.
 * The platform's own store needs no grant for the namespace's own uploads and outputs
 * (input-access.ts); the rest of the store's bucket is read only where granted, like any bucket.
 */
export const INPUT_BUCKETS_ANNOTATION = "pixelmill.io/input-buckets";

/** The buckets granted by a Namespace's annotations: names that are not bucket names are ignored. */
export function grantedBuckets(annotations: Readonly<Record<string, string>> | undefined): string[] {
  const value = annotations?.[INPUT_BUCKETS_ANNOTATION] ?? "";
  return [...new Set(value.split(",").map((b) => b.trim()).filter(isBucketName))];
}

export interface BucketRule {
  /** INPUT_BUCKETS (allowedInputBuckets): buckets any `s3://` input may name at all. */
  allowed: ReadonlySet<string>;
  /**
   * The buckets granted to the namespace (grantedBuckets); undefined when unknown (a job enqueued
   * by an operator that did not send them), when INPUT_BUCKETS alone decides, as it used to.
   */
  granted: readonly string[] | undefined;
  /** storeRoot of the platform's store: `s3://bucket/prefix/`, undefined for a file store. */
  root: string | undefined;
}

/**
 * Why a job in `namespace` may not read the `s3://` input's bucket, or undefined when it may.
 * Other schemes, and the store's areas of other namespaces, are input-access.ts's refuseInput's.
 */
export function refuseBucket(input: InputUri, namespace: string, rule: BucketRule): string | undefined {
  if (input.scheme !== "s3") return undefined;
  if (!rule.allowed.has(input.bucket)) return `bucket ${input.bucket} is not one inputs may be read from (INPUT_BUCKETS)`;
  if (rule.granted === undefined || rule.granted.includes(input.bucket) || inOwnArea(input, namespace, rule.root)) return undefined;
  return `bucket ${input.bucket} is not granted to namespace ${namespace} (annotation ${INPUT_BUCKETS_ANNOTATION} on the Namespace)`;
}
