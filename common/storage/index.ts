import { fileURLToPath } from "node:url";
import type { Config } from "../config.js";
import { FileObjectStore } from "./file-object-store.js";
import { S3ObjectStore } from "./s3-object-store.js";
import type { ObjectStore } from "./object-store.js";
import type { UrlSigner } from "./url-signer.js";

export type { ObjectStore, StoredObject, PutOptions, PresignPostOptions, PresignedPost } from "./object-store.js";
export { readAll, checkKey, validKey } from "./object-store.js";
export { UrlSigner, type UrlSignerOptions } from "./url-signer.js";
export { FileObjectStore } from "./file-object-store.js";
export { S3ObjectStore } from "./s3-object-store.js";

type StorageConfig = Pick<Config, "STORAGE_URL" | "S3_ENDPOINT" | "S3_REGION" | "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY" | "S3_FORCE_PATH_STYLE">
  & Partial<Pick<Config, "S3_PUBLIC_ENDPOINT" | "S3_CONNECT_TIMEOUT_MS" | "S3_REQUEST_TIMEOUT_MS">>;

/**
 * The store STORAGE_URL names: `s3://bucket[/prefix]` or `file:///dir`. `fileUrlSigner` lets a
 * file store hand out signed URLs (S3 presigns with its own credentials and ignores it).
 */
export function createObjectStore(config: StorageConfig, opts: { fileUrlSigner?: UrlSigner } = {}): ObjectStore {
  const url = new URL(config.STORAGE_URL);
  if (url.protocol === "file:") return new FileObjectStore(fileURLToPath(url), { signer: opts.fileUrlSigner });
  const prefix = url.pathname.replace(/^\/+/, "");
  return new S3ObjectStore({
    bucket: url.hostname,
    prefix: prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    publicEndpoint: config.S3_PUBLIC_ENDPOINT,
    connectTimeoutMs: config.S3_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
    credentials: config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
      ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
      : undefined,
  });
}
