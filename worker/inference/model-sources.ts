import { createReadStream } from "node:fs";
import { get, type Agent } from "node:https";
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { JobFailure, ObjectNotFoundError } from "../../common/errors.js";
import type { ObjectStore } from "../../common/storage/index.js";

export interface SourceOptions {
  objectStoreFor?: (bucket: string) => ObjectStore;
  /** Limits of https:// downloads (FETCH_MAX_BYTES, FETCH_TIMEOUT_MS). */
  fetchMaxBytes: number;
  fetchTimeoutMs: number;
  httpsAgent?: Agent;
}

/** The bytes of a model file as a stream, and the byte limit its reader must enforce. */
export interface OpenedSource {
  body: Readable;
  maxBytes?: number;
}

const MAX_REDIRECTS = 5;

export function unavailable(uri: string, why: string, cause?: unknown): JobFailure {
  return new JobFailure("ModelUnavailable", `model file ${shown(uri)}: ${why}`, { cause });
}

/** Opens a `file://`, `s3://` or `https://` model source; failures are ModelUnavailable. */
export async function openSource(uri: string, opts: SourceOptions): Promise<OpenedSource> {
  if (uri.startsWith("file://")) return { body: await openFile(uri) };
  if (uri.startsWith("s3://")) return { body: await openS3(uri, opts) };
  if (uri.startsWith("https://")) return { body: await openHttps(new URL(uri), opts), maxBytes: opts.fetchMaxBytes };
  throw unavailable(uri, "the scheme is not one of builtin:, file://, s3://, https://");
}

async function openFile(uri: string): Promise<Readable> {
  const stream = createReadStream(fileURLToPath(uri));
  // Surface ENOENT here rather than in the middle of the copy.
  await new Promise<void>((resolve, reject) => stream.once("open", () => resolve()).once("error", reject)).catch((err: Error) => {
    throw unavailable(uri, err.message, err);
  });
  return stream;
}

async function openS3(uri: string, opts: SourceOptions): Promise<Readable> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw unavailable(uri, "not an s3://bucket/key URI");
  if (!opts.objectStoreFor) throw unavailable(uri, "this worker has no S3 access configured");
  try {
    return (await opts.objectStoreFor(match[1]!).get(match[2]!)).body;
  } catch (err) {
    const why = err instanceof ObjectNotFoundError ? "no such object" : (err as Error).message;
    throw unavailable(uri, why, err);
  }
}

/** GET with redirects (https only), a deadline for the whole download, and a size limit. */
async function openHttps(url: URL, opts: SourceOptions): Promise<Readable> {
  const signal = AbortSignal.timeout(opts.fetchTimeoutMs);
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (current.protocol !== "https:") throw unavailable(url.href, `redirected to a ${current.protocol} URL; only https is allowed`);
    const res = await request(current, opts.httpsAgent, signal).catch((err: Error) => {
      throw unavailable(url.href, signal.aborted ? `no answer within ${opts.fetchTimeoutMs} ms (FETCH_TIMEOUT_MS)` : err.message, err);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      current = new URL(res.headers.location, current);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw unavailable(url.href, `GET answered ${status}`);
    }
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > opts.fetchMaxBytes) {
      res.destroy();
      throw unavailable(url.href, `${declared} bytes is more than FETCH_MAX_BYTES (${opts.fetchMaxBytes})`);
    }
    return res;
  }
  throw unavailable(url.href, `more than ${MAX_REDIRECTS} redirects`);
}

function request(url: URL, agent: Agent | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, signal, headers: { "user-agent": "pixelmill-worker" } }, resolve);
    req.once("error", reject);
  });
}

/** The URI without its query: presigned URLs carry credentials there, and messages reach users. */
export function shown(uri: string): string {
  const q = uri.search(/[?#]/);
  return q < 0 ? uri : uri.slice(0, q);
}
