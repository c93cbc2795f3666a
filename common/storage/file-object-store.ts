import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { ObjectNotFoundError } from "../errors.js";
import { checkKey, type ObjectStore, type PutOptions, type StoredObject } from "./object-store.js";

const TYPES: Record<string, string> = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".json": "application/json", ".onnx": "application/octet-stream" };

/**
 * Objects as files under a root folder: the embedded default of `npm run dev`, so the platform
 * runs with no S3 server. Writes go to a temp name first, so a reader never sees half a file.
 * Content types come from the key's extension.
 */
export class FileObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  uri(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString("hex")}.partial`;
    try {
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(tmp));
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { key, bytes: (await stat(path)).size, contentType: opts.contentType ?? typeOf(key) };
  }

  async get(key: string): Promise<{ body: Readable; bytes: number; contentType?: string }> {
    const found = await this.head(key);
    if (!found) throw new ObjectNotFoundError(this.uri(key));
    return { body: createReadStream(this.path(key)), bytes: found.bytes, contentType: found.contentType };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const info = await stat(this.path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
      throw err;
    });
    return info?.isFile() ? { key, bytes: info.size, contentType: typeOf(key) } : undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  close(): void {}

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }
}

function typeOf(key: string): string | undefined {
  return TYPES[extname(key).toLowerCase()];
}
