/**
 * Where a job's input may come from, and how its URI is spelled. The API, the operator and the
 * workers all read inputs through parseInputUri; the CRD's CEL rules on spec.input.uri
 * (crds/imagejobs.pixelmill.io.yaml) say the same to kubectl users.
 *
 * - `upload:<key>`: an object under the namespace's `uploads/<namespace>/`, stored by the API from
 *   a multipart upload or sent straight to storage by the client (POST /v1/uploads hands out the key).
 * - `s3://<bucket>/<key>`: an object in a bucket inputs may be read from (inputBuckets).
 * - `https://<host>/<path>`: fetched by the worker from public addresses only (address policy).
 */
export const INPUT_SCHEMES = ["upload", "s3", "https"] as const;
export type InputScheme = (typeof INPUT_SCHEMES)[number];

/**
 * The schemes a client may name in a JSON job: all of them. An upload: key is one POST /v1/uploads
 * handed out (or a multipart submit made); the API refuses another namespace's (input-access.ts).
 */
export const CLIENT_INPUT_SCHEMES: readonly InputScheme[] = ["upload", "s3", "https"];

export const INPUT_URI_FORMS = "upload:<key>, s3://<bucket>/<key> or https://<host>/<path>";

export type InputUri =
  | { scheme: "upload"; key: string }
  | { scheme: "s3"; bucket: string; key: string }
  /** `host`: the URL's hostname, an IPv6 address without its brackets. */
  | { scheme: "https"; url: URL; host: string };

/** S3 bucket naming rules (the common subset): 3 to 63 of a-z, 0-9, '.', '-'. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const UPLOAD_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._/-]*$/;
const MAX_URI_LENGTH = 2048;

export function isBucketName(name: string): boolean {
  return BUCKET.test(name);
}

/** The URI's scheme in lower case (`s3`, not `s3:`), whatever it is; undefined when it has none. */
export function uriScheme(uri: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
}

/** The input a URI names, or what is wrong with it (a sentence, for the caller's own error). */
export function parseInputUri(uri: string): InputUri | { problem: string } {
  if (uri.length > MAX_URI_LENGTH) return { problem: `input URIs are at most ${MAX_URI_LENGTH} characters` };
  const scheme = uriScheme(uri);
  if (scheme === "upload") {
    const key = uri.slice("upload:".length);
    return UPLOAD_KEY.test(key) && !key.includes("..") ? { scheme, key } : { problem: `${uri} is not an upload:<key> URI` };
  }
  if (scheme === "s3") {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    return match && isBucketName(match[1]!) ? { scheme, bucket: match[1]!, key: match[2]! } : { problem: `${uri} is not an s3://<bucket>/<key> URI` };
  }
  if (scheme === "https") {
    const url = URL.parse(uri);
    if (!url || url.protocol !== "https:" || !url.hostname) return { problem: `${uri} is not an absolute https:// URL with a host` };
    return { scheme, url, host: url.hostname.replace(/^\[(.*)\]$/, "$1") };
  }
  return { problem: `input URIs with scheme ${scheme ? `${scheme}:` : "(none)"} are not allowed; use ${INPUT_URI_FORMS}` };
}

/** The buckets `s3://` inputs may come from: INPUT_BUCKETS, else the bucket of STORAGE_URL (s3:// only). */
export function inputBuckets(config: { INPUT_BUCKETS?: readonly string[] | undefined; STORAGE_URL: string }): string[] {
  return config.INPUT_BUCKETS ? [...config.INPUT_BUCKETS] : storageBucket(config.STORAGE_URL);
}

/** The bucket of an `s3://bucket[/...]` URL, as a list of zero or one. */
export function storageBucket(url: string): string[] {
  const bucket = /^s3:\/\/([^/]+)/.exec(url)?.[1];
  return bucket ? [bucket] : [];
}

/** The buckets `s3://` inputs may name: those configured, else the store's own bucket (s3:// stores only). */
export function allowedInputBuckets(configured: readonly string[] | undefined, store: { uri(key: string): string }): ReadonlySet<string> {
  return new Set(configured ?? storageBucket(store.uri("k")));
}
