import { randomUUID } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import type { Logger } from "../../common/logger.js";
import { uploadsPrefix } from "../../common/job/input-access.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { UnsupportedImageTypeError, UploadTooLargeError } from "./errors.js";
import { SNIFF_BYTES, sniffImageType, type ImageType } from "../../common/image-sniff.js";

export interface StoredUpload {
  key: string;
  contentType: string;
  bytes: number;
}

export interface UploadOptions {
  store: ObjectStore;
  namespace: string;
  /** MAX_UPLOAD_BYTES */
  maxBytes: number;
  log: Logger;
  /** Runs once the upload is stored, with its size; when it throws, the upload is deleted (a tenant's daily bytes cap). */
  admit?: (bytes: number) => Promise<void>;
  /** The key for an upload of the sniffed type (throwing to refuse it); by default a new `uploads/<namespace>/<uuid>.<ext>`. */
  keyFor?: (type: ImageType) => string;
}

/**
 * Streams an uploaded image into the store under `uploads/<namespace>/<uuid>.<ext>`, never
 * holding more than a chunk in memory. The first bytes decide the type (UnsupportedImageTypeError
 * for anything but an image format we read); an upload over maxBytes fails with UploadTooLargeError
 * and whatever was written is deleted. `file` is left drained, never destroyed, because whoever
 * feeds it (a form parser) may wait on it to go on with the rest of its input.
 */
export async function storeUpload(file: Readable, opts: UploadOptions): Promise<StoredUpload> {
  const guard = new UploadGuard(opts.maxBytes);
  file.on("error", (err) => guard.destroy(err));
  file.pipe(guard);
  let key: string | undefined;
  try {
    const type = await guard.detected;
    key = opts.keyFor ? opts.keyFor(type) : `${uploadsPrefix(opts.namespace)}${randomUUID()}.${type.ext}`;
    const stored = await opts.store.put(key, guard, { contentType: type.contentType });
    await opts.admit?.(stored.bytes);
    return { key, contentType: type.contentType, bytes: stored.bytes };
  } catch (err) {
    file.unpipe(guard);
    file.resume();
    if (key !== undefined) {
      await opts.store.delete(key).catch((e: unknown) => opts.log.error({ key, err: e }, "Could not delete a partial upload"));
    }
    // A store reading a failed stream reports its own error; the guard's says why it failed.
    throw guard.failure ?? err;
  }
}

/** Passes bytes through once the head is known to be an image, and fails past the size limit. */
class UploadGuard extends Transform {
  readonly detected: Promise<ImageType>;
  failure: Error | undefined;
  private head: Buffer[] = [];
  private headBytes = 0;
  private seen = 0;
  private type: ImageType | undefined;
  private resolve!: (t: ImageType) => void;

  constructor(private readonly maxBytes: number) {
    super();
    this.detected = new Promise<ImageType>((resolve, reject) => {
      this.resolve = resolve;
      this.on("error", reject);
      this.on("close", () => reject(new Error("the upload ended before its type was known")));
    });
    // Awaited by storeUpload; this keeps a rejection after a failed put from counting as unhandled.
    this.detected.catch(() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.maxBytes) return cb(this.fail(new UploadTooLargeError(this.maxBytes)));
    if (this.type) return cb(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) return cb();
    this.decide(cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.type) return cb();
    this.decide(cb);
  }

  private decide(cb: TransformCallback): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.type = sniffImageType(head);
    if (!this.type) {
      return cb(this.fail(new UnsupportedImageTypeError("the upload is not a PNG, JPEG, WebP, GIF, TIFF or AVIF image")));
    }
    this.resolve(this.type);
    cb(null, head);
  }

  private fail(err: Error): Error {
    this.failure = err;
    return err;
  }
}
