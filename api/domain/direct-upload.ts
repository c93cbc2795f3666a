import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { IMAGE_TYPES, type ImageType } from "../../common/image-sniff.js";
import { uploadsPrefix } from "../../common/job/input-access.js";
import type { Logger } from "../../common/logger.js";
import type { ObjectStore, UrlSigner } from "../../common/storage/index.js";
import { UnsupportedImageTypeError, UploadTooLargeError } from "./errors.js";
import type { TenantCaps } from "./limits.js";
import type { Principal } from "./principal.js";
import { sanitizeFilename } from "./input-filename.js";
import type { UploadFilenameRepository } from "./ports.js";
import { storeUpload, type StoredUpload } from "./upload.js";

/** How long a direct upload's URL may be used. */
export const DIRECT_UPLOAD_TTL_SECONDS = 15 * 60;

/** Where and how the client sends the file, and the `upload:` URI a job then names. */
export interface DirectUpload {
  uri: string;
  key: string;
  contentType: string;
  /** POST: a form to S3 (`fields` first, the file last, as `file`); PUT: the bytes as the body, to the API. */
  method: "POST" | "PUT";
  url: string;
  fields: Record<string, string>;
  expiresAt: Date;
  /** The most bytes the store takes at this URL (and what the tenant's day was charged). */
  maxBytes: number;
}

export interface DirectUploadsDeps {
  /** The platform's store: an S3 store presigns a form POST (presignPost). */
  store: ObjectStore;
  /** The store PUT /v1/uploads writes to (the submit path's, stopped when storage is found down); default `store`. */
  putStore?: ObjectStore;
  /** A file store's URL signer (that of /v1/files): PUT /v1/uploads URLs are signed with a key derived from it. */
  fileSigner?: UrlSigner;
  /** PUBLIC_URL, under which PUT /v1/uploads/<key> is reached. */
  publicUrl: string;
  /** MAX_UPLOAD_BYTES: the most one upload may declare. */
  maxUploadBytes: number;
  /** The tenant caps (ADR 0009): a direct upload is charged its maxBytes when handed out. */
  caps?: TenantCaps;
  log: Logger;
  ttlSeconds?: number;
  now?: () => number;
  /** Where a filename given with the upload is kept for the job that names it; none: it is dropped. */
  filenames?: UploadFilenameRepository;
}

/**
 * Direct uploads (POST /v1/uploads): the client sends the file straight to storage, so large
 * files never stream through the API, and a job then names the `upload:` key. Each upload has
 * one key under the tenant's uploads prefix, one declared type and a size bound, all enforced
 * by the store (S3's POST policy) or by the API's own PUT (a file store), and the bound is what
 * counts against the tenant's daily upload bytes, at the moment the URL is handed out: presigning
 * small and sending big is refused by the store, and sending again only replaces the same object.
 */
export class DirectUploads {
  private readonly ttlSeconds: number;

  constructor(private readonly deps: DirectUploadsDeps) {
    this.ttlSeconds = deps.ttlSeconds ?? DIRECT_UPLOAD_TTL_SECONDS;
  }

  /** `filename`: the file's name as the client has it, sanitized (input-filename.ts), shown on the job that names the upload. */
  async create(principal: Principal, request: { contentType: string; bytes?: number; filename?: string }): Promise<DirectUpload> {
    const type = IMAGE_TYPES.find((t) => t.contentType === request.contentType);
    if (!type) throw new UnsupportedImageTypeError(`an upload is one of ${IMAGE_TYPES.map((t) => t.contentType).join(", ")}, not ${request.contentType}`);
    const maxBytes = request.bytes ?? this.deps.maxUploadBytes;
    if (maxBytes > this.deps.maxUploadBytes) throw new UploadTooLargeError(this.deps.maxUploadBytes);
    const key = `${uploadsPrefix(principal.namespace)}${randomUUID()}.${type.ext}`;
    const expiresAt = new Date(this.now() + this.ttlSeconds * 1000);
    const target = await this.target(key, type, maxBytes);
    await this.deps.caps?.recordUpload(principal, maxBytes);
    const filename = sanitizeFilename(request.filename);
    if (filename) await this.deps.filenames?.remember({ key, namespace: principal.namespace, filename });
    this.deps.log.info({ key, maxBytes, method: target.method, tenant: principal.tenantName }, "Direct upload handed out");
    return { uri: `upload:${key}`, key, contentType: type.contentType, ...target, expiresAt, maxBytes };
  }

  /**
   * What a PUT /v1/uploads URL grants (the size bound, the declared type) when its `expires`,
   * `sig` and `max` are the API's own for `key` and it has not expired; else undefined.
   */
  verifyPut(key: string, query: { expires?: string; sig?: string; max?: string }): { maxBytes: number; contentType: string } | undefined {
    const maxBytes = query.max !== undefined && /^[1-9]\d{0,14}$/.test(query.max) ? Number(query.max) : undefined;
    const signer = maxBytes === undefined ? undefined : this.putSigner(maxBytes);
    const type = typeOfKey(key);
    if (maxBytes === undefined || !signer || !type || !signer.verify(key, query.expires, query.sig)) return undefined;
    return { maxBytes, contentType: type.contentType };
  }

  /**
   * The body of a verified PUT, stored at `key` as multipart uploads are (upload.ts): refused
   * past `maxBytes`, and unless its first bytes are an image of the key's type.
   */
  async receive(key: string, body: Readable, maxBytes: number): Promise<StoredUpload> {
    const declared = typeOfKey(key);
    if (!declared) throw new UnsupportedImageTypeError(`${key} is not an upload key`);
    return storeUpload(body, {
      store: this.deps.putStore ?? this.deps.store, namespace: key.split("/")[1]!, maxBytes, log: this.deps.log,
      keyFor: (sniffed) => {
        if (sniffed.ext !== declared.ext) throw new UnsupportedImageTypeError(`the upload is ${sniffed.contentType}, not the ${declared.contentType} it was declared as`);
        return key;
      },
    });
  }

  private async target(key: string, type: ImageType, maxBytes: number): Promise<Pick<DirectUpload, "method" | "url" | "fields">> {
    const { store } = this.deps;
    if (store.presignPost) {
      const post = await store.presignPost(key, { contentType: type.contentType, maxBytes, expiresInSeconds: this.ttlSeconds });
      return { method: "POST", url: post.url, fields: post.fields };
    }
    const signer = this.putSigner(maxBytes);
    if (!signer) throw new Error("direct uploads need S3 storage, or a file store with a URL signer (URL_SIGNING_SECRET)");
    return { method: "PUT", url: `${signer.sign(key, this.ttlSeconds)}&max=${maxBytes}`, fields: {} };
  }

  /** The size bound is part of what a PUT URL's signature covers: each bound has its own derived key. */
  private putSigner(maxBytes: number): UrlSigner | undefined {
    return this.deps.fileSigner?.derive(`PUT /v1/uploads max=${maxBytes}`, `${this.deps.publicUrl.replace(/\/+$/, "")}/v1/uploads`);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }
}

/** The image type an upload key's extension names; undefined for a key outside `uploads/<namespace>/`. */
function typeOfKey(key: string): ImageType | undefined {
  if (!/^uploads\/[^/]+\/[^/]+$/.test(key)) return undefined;
  return IMAGE_TYPES.find((t) => key.endsWith(`.${t.ext}`));
}

/** Why a job may not name `upload:<key>` now: nothing was uploaded there (yet). */
export async function missingUpload(store: Pick<ObjectStore, "head">, key: string): Promise<string | undefined> {
  if (await store.head(key)) return undefined;
  return `there is no upload at upload:${key}: send the file to the URL POST /v1/uploads gave (before it expires), then submit the job`;
}
