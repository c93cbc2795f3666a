import type { Readable } from "node:stream";
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, NotFound, paginateListObjectsV2, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { DEFAULT_S3_CONNECT_TIMEOUT_MS, DEFAULT_S3_REQUEST_TIMEOUT_MS } from "../config.js";
import { ObjectNotFoundError } from "../errors.js";
import { checkKey, validKey, type ObjectStore, type PresignedPost, type PresignPostOptions, type PutOptions, type StoredObject } from "./object-store.js";

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. `tenants/` or a per-test prefix. */
  prefix?: string;
  endpoint?: string;
  region: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Where clients reach S3 (S3_PUBLIC_ENDPOINT): presigned URLs are signed for this host, which
   * must lead to the same server. Default: `endpoint`.
   */
  publicEndpoint?: string;
  /** S3_CONNECT_TIMEOUT_MS: a connection not made in this long fails (and is retried by the SDK). */
  connectTimeoutMs?: number;
  /**
   * S3_REQUEST_TIMEOUT_MS: a request not answered this long after it began, or a transfer with
   * no byte either way for this long, fails (and is retried by the SDK).
   */
  requestTimeoutMs?: number;
}

export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  /** Signs only (presigning sends nothing), for the public endpoint when there is one. */
  private readonly presigner: S3Client;
  private readonly prefix: string;

  constructor(private readonly opts: S3StoreOptions) {
    const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_S3_REQUEST_TIMEOUT_MS;
    // Without deadlines a frozen S3 (it takes the connection, never answers) holds every call forever.
    const requestHandler = {
      connectionTimeout: opts.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS,
      requestTimeout, throwOnRequestTimeout: true, socketTimeout: requestTimeout,
    };
    const common = { region: opts.region, forcePathStyle: opts.forcePathStyle, credentials: opts.credentials };
    this.client = new S3Client({ ...common, endpoint: opts.endpoint, requestHandler });
    this.presigner = opts.publicEndpoint ? new S3Client({ ...common, endpoint: opts.publicEndpoint }) : this.client;
    this.prefix = opts.prefix ?? "";
  }

  uri(key: string): string {
    return `s3://${this.opts.bucket}/${this.fullKey(key)}`;
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<StoredObject> {
    let bytes = 0;
    const counted = Buffer.isBuffer(body) ? ((bytes = body.length), body) : body.on("data", (c: Buffer) => (bytes += c.length));
    // lib-storage sends small bodies in one PutObject and large or unsized streams as multipart.
    const upload = new Upload({ client: this.client, params: { Bucket: this.opts.bucket, Key: this.fullKey(key), Body: counted, ContentType: opts.contentType } });
    const abort = () => void upload.abort().catch(() => {}); // done() rejects with the abort
    opts.signal?.throwIfAborted();
    opts.signal?.addEventListener("abort", abort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      throw opts.signal?.aborted ? (opts.signal.reason as Error) : err;
    } finally {
      opts.signal?.removeEventListener("abort", abort);
    }
    // Written after all, if the abort came as the last byte went: the caller deletes it.
    opts.signal?.throwIfAborted();
    return { key, bytes, contentType: opts.contentType };
  }

  async get(key: string): Promise<{ body: Readable; bytes: number; contentType?: string }> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(key) }));
      return { body: out.Body as Readable, bytes: out.ContentLength ?? 0, contentType: out.ContentType };
    } catch (err) {
      if (err instanceof NoSuchKey) throw new ObjectNotFoundError(this.uri(key));
      throw err;
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(key) }));
      return { key, bytes: out.ContentLength ?? 0, contentType: out.ContentType };
    } catch (err) {
      if (err instanceof NotFound || err instanceof NoSuchKey) return undefined;
      throw err;
    }
  }

  async copy(from: string, to: string): Promise<StoredObject | undefined> {
    const source = this.fullKey(from).split("/").map(encodeURIComponent).join("/");
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(to), CopySource: `${this.opts.bucket}/${source}` }));
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === "NoSuchKey") return undefined;
      throw err;
    }
    return await this.head(to);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(key) }));
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(key) });
    return await getSignedUrl(this.presigner, command, { expiresIn: expiresInSeconds });
  }

  async presignPost(key: string, opts: PresignPostOptions): Promise<PresignedPost> {
    // The library adds the bucket, the exact key and each field (Content-Type) as conditions.
    return await createPresignedPost(this.presigner, {
      Bucket: this.opts.bucket, Key: this.fullKey(key), Expires: opts.expiresInSeconds,
      Fields: { "Content-Type": opts.contentType },
      Conditions: [["content-length-range", 1, opts.maxBytes]],
    });
  }

  /** HeadBucket: the endpoint answers, and these credentials may use the bucket. */
  async check(signal?: AbortSignal): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }), { abortSignal: signal });
  }

  async *list(prefix: string): AsyncIterable<string> {
    if (prefix !== "" && !prefix.endsWith("/")) throw new Error(`a listed prefix ends in '/': ${prefix}`);
    const full = this.prefix + prefix;
    for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.opts.bucket, Prefix: full })) {
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.prefix.length);
        if (key && validKey(key)) yield key;
      }
    }
  }

  keyOf(uri: string): string | undefined {
    const start = `s3://${this.opts.bucket}/${this.prefix}`;
    return uri.startsWith(start) ? validKey(uri.slice(start.length)) : undefined;
  }

  close(): void {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
  }

  private fullKey(key: string): string {
    return this.prefix + checkKey(key);
  }
}
