import type { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { ObjectNotFoundError } from "../errors.js";
import { checkKey, validKey, type ObjectStore, type PutOptions, type StoredObject } from "./object-store.js";

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. `tenants/` or a per-test prefix. */
  prefix?: string;
  endpoint?: string;
  region: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly opts: S3StoreOptions) {
    this.client = new S3Client({ endpoint: opts.endpoint, region: opts.region, forcePathStyle: opts.forcePathStyle, credentials: opts.credentials });
    this.prefix = opts.prefix ?? "";
  }

  uri(key: string): string {
    return `s3://${this.opts.bucket}/${this.fullKey(key)}`;
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<StoredObject> {
    let bytes = 0;
    const counted = Buffer.isBuffer(body) ? ((bytes = body.length), body) : body.on("data", (c: Buffer) => (bytes += c.length));
    // lib-storage sends small bodies in one PutObject and large or unsized streams as multipart.
    await new Upload({ client: this.client, params: { Bucket: this.opts.bucket, Key: this.fullKey(key), Body: counted, ContentType: opts.contentType } }).done();
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

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(key) }));
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.fullKey(key) });
    return await getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }

  keyOf(uri: string): string | undefined {
    const start = `s3://${this.opts.bucket}/${this.prefix}`;
    return uri.startsWith(start) ? validKey(uri.slice(start.length)) : undefined;
  }

  close(): void {
    this.client.destroy();
  }

  private fullKey(key: string): string {
    return this.prefix + checkKey(key);
  }
}
