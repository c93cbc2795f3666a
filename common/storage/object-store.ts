import type { Readable } from "node:stream";
import { InvalidObjectKeyError } from "../errors.js";

export interface PutOptions {
  contentType?: string;
  /**
   * Aborts the write: the put rejects with the signal's reason and leaves no object behind, as
   * far as the store can tell (an S3 PUT the server had already taken may still land: callers
   * that must leave nothing delete the key after the put settles).
   */
  signal?: AbortSignal;
}

export interface StoredObject {
  key: string;
  bytes: number;
  contentType?: string;
}

export interface PresignPostOptions {
  contentType: string;
  maxBytes: number;
  expiresInSeconds: number;
}

export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

/** Where inputs, outputs and model files live: S3 in production, a folder for `npm run dev`. */
export interface ObjectStore {
  /** The URI a key is known by in ImageJob specs and status (`s3://bucket/key`, `file:///...`). */
  uri(key: string): string;
  put(key: string, body: Buffer | Readable, opts?: PutOptions): Promise<StoredObject>;
  /** The object's bytes as a stream; ObjectNotFoundError when there is none. */
  get(key: string): Promise<{ body: Readable; bytes: number; contentType?: string }>;
  /** Size and type, or undefined when there is no object. */
  head(key: string): Promise<StoredObject | undefined>;
  /**
   * Copies an object of this store to another key of it, server-side where the store can (S3
   * CopyObject): the copy's size and type, or undefined when there is no object at `from`.
   */
  copy(from: string, to: string): Promise<StoredObject | undefined>;
  /**
   * The keys under `prefix` (a key prefix, '' or ending in '/'), in key order, page by page (S3
   * ListObjectsV2), so a caller can stop early. Batch prefixes (common/batch.ts) are listed so.
   */
  list?(prefix: string): AsyncIterable<string>;
  /** Removes the object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * A URL anyone holding it can GET the object from until it expires: S3 presigning, or for a
   * file store an HMAC-signed URL the API serves. Does not check that the object exists.
   */
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
  /**
   * S3 only: a browser-style form POST (`url`, and `fields` to send before the file) that stores
   * one object at `key` until it expires, S3 itself refusing a body outside 1..maxBytes or a
   * Content-Type other than `contentType`. Signed for the public endpoint, as presignGet is.
   */
  presignPost?(key: string, opts: PresignPostOptions): Promise<PresignedPost>;
  /** The key of one of this store's URIs (the inverse of `uri`); undefined for any other URI. */
  keyOf(uri: string): string | undefined;
  /**
   * Resolves when the store can be used now (S3: HeadBucket answered; a folder: a probe file
   * written and removed), for readiness; rejects otherwise, or when `signal` aborts first.
   */
  check(signal?: AbortSignal): Promise<void>;
  close(): void;
}

/** Keys are relative slash-separated paths: no empty, `.` or `..` segments, no leading slash. */
export function checkKey(key: string): string {
  if (key.length === 0 || key.length > 1024) throw new InvalidObjectKeyError(key, "length must be 1 to 1024");
  if (key.startsWith("/")) throw new InvalidObjectKeyError(key, "must not start with '/'");
  if (key.split("/").some((s) => s === "" || s === "." || s === "..")) throw new InvalidObjectKeyError(key, "empty, '.' or '..' segment");
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw new InvalidObjectKeyError(key, "control character or backslash");
  return key;
}

/** The key when it passes checkKey, else undefined. */
export function validKey(key: string): string | undefined {
  try {
    return checkKey(key);
  } catch {
    return undefined;
  }
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
