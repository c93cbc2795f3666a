import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, extname, isAbsolute, join, relative, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ObjectNotFoundError } from "../errors.js";
import { checkKey, validKey, type ObjectStore, type PutOptions, type StoredObject } from "./object-store.js";
import type { UrlSigner } from "./url-signer.js";

const TYPES: Record<string, string> = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".json": "application/json", ".onnx": "application/octet-stream" };

/**
 * Objects as files under a root folder: the embedded default of `npm run dev`, so the platform
 * runs with no S3 server. Writes go to a temp name first, so a reader never sees half a file.
 * Content types come from the key's extension.
 */
export class FileObjectStore implements ObjectStore {
  /** `signer` makes presignGet possible: the API that serves the signed URLs holds the same one. */
  constructor(private readonly root: string, private readonly opts: { signer?: UrlSigner } = {}) {}

  uri(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString("hex")}.partial`;
    try {
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(tmp), { signal: opts.signal });
      opts.signal?.throwIfAborted(); // the rename is what makes the object exist
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw opts.signal?.aborted ? (opts.signal.reason as Error) : err;
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

  /** Copies to a temp name and renames, as put does, so a reader never sees half a file. */
  async copy(from: string, to: string): Promise<StoredObject | undefined> {
    if (!(await this.head(from))) return undefined;
    const path = this.path(to);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString("hex")}.partial`;
    try {
      await copyFile(this.path(from), tmp);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined; // removed meanwhile
      throw err;
    }
    return await this.head(to);
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    const { signer } = this.opts;
    // Inside the executor, so that a bad key rejects rather than throws.
    return new Promise((resolve) => {
      if (!signer) throw new Error("a file:// store signs URLs only when given a signer (URL_SIGNING_SECRET)");
      resolve(signer.sign(key, expiresInSeconds));
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    if (prefix !== "" && !prefix.endsWith("/")) throw new Error(`a listed prefix ends in '/': ${prefix}`);
    const dir = prefix === "" ? this.root : join(this.root, checkKey(prefix.slice(0, -1)));
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    // In key order, as S3 lists; the partial files of puts under way are no objects.
    const keys = entries.filter((e) => e.isFile() && !e.name.endsWith(".partial") && !e.name.startsWith(".check-"))
      .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join("/"))
      .filter((k) => validKey(k) !== undefined)
      .sort();
    yield* keys;
  }

  keyOf(uri: string): string | undefined {
    if (!uri.startsWith("file:")) return undefined;
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch {
      return undefined;
    }
    const rel = relative(this.root, path);
    if (!rel || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
    return validKey(rel.split(sep).join("/"));
  }

  async check(signal?: AbortSignal): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const probe = join(this.root, `.check-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(probe, "ok", { signal });
    } finally {
      await rm(probe, { force: true });
    }
  }

  close(): void {}

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }
}

function typeOf(key: string): string | undefined {
  return TYPES[extname(key).toLowerCase()];
}
