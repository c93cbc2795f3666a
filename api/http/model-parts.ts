import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import busboy from "busboy";
import type { Request } from "express";
import { convertTfjsLayers } from "../../models/tfjs/convert.js";
import { TfjsModelJson } from "../../models/tfjs/model-json.js";
import { readTfjsModel } from "../../models/tfjs/read.js";
import { validKey } from "../../common/storage/index.js";
import type { ModelFile } from "../domain/add-model.js";
import { InvalidModelError, InvalidRequestError, UploadTooLargeError } from "../domain/errors.js";
import { FormTooLargeError } from "./http-errors.js";

/** One file part as written to the request's folder. */
interface Part {
  path: string;
  bytes: number;
  sha256: string;
}

export interface ModelParts {
  fields: Record<string, string>;
  /** The `file` part: an ONNX file. */
  onnx?: Part;
  /** The folder holding `model.json` and the shards by their file names, when a TF.js model was sent. */
  tfjs?: string;
}

const LIMITS = { fields: 16, fieldSize: 64 * 1024, files: 64, parts: 96 };
const BUSBOY_LIMITS = { ...LIMITS, parts: LIMITS.parts + 1 };

/**
 * Reads a POST /v1/models form into `dir` as it arrives: the `file` part to `dir/model.onnx`; a
 * `model.json` part (by field or file name) and every other file part (a weight shard, by its file name, which may hold
 * folders as the manifest's paths do) under `dir/tfjs/`. All files together may be `maxBytes`
 * (413 past it). Settles once the whole request is read; the caller removes `dir`.
 */
export function receiveModelParts(req: Request, opts: { dir: string; maxBytes: number }): Promise<ModelParts> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: BUSBOY_LIMITS, preservePath: true });
    } catch (err) {
      reject(new InvalidRequestError(`cannot read the multipart body: ${(err as Error).message}`));
      return;
    }
    const result: ModelParts = { fields: {} };
    let failure: Error | undefined;
    const fail = (err: Error) => void (failure ??= err);
    const writes: Promise<unknown>[] = [];
    let seen = 0;
    const count = (n: number) => (seen += n) > opts.maxBytes;

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) fail(new InvalidRequestError(`field ${name} is longer than ${LIMITS.fieldSize} bytes`));
      else result.fields[name] = value;
    });
    const hit = (unit: "fields" | "files" | "parts") => () => fail(new FormTooLargeError(unit, LIMITS[unit]));
    parser.on("fieldsLimit", hit("fields"));
    parser.on("filesLimit", hit("files"));
    parser.on("partsLimit", hit("parts"));
    parser.on("file", (name, file, info) => {
      file.on("error", () => {});
      const target = failure ? undefined : targetOf(name, info.filename, result, opts.dir);
      if (typeof target !== "string") {
        if (target) fail(target);
        file.resume();
        return;
      }
      const written = save(file, target, count, () => new UploadTooLargeError(opts.maxBytes)).then((part) => {
        if (name === "file") result.onnx = part;
      }, (err: Error) => fail(err));
      writes.push(written);
    });

    let finished = false;
    const finish = async (parseError?: Error) => {
      if (finished) return;
      finished = true;
      req.unpipe(parser);
      await Promise.all(writes);
      // What the client did wrong first: over the size limit, then a malformed body.
      const err = failure instanceof UploadTooLargeError ? failure : parseError ? new InvalidRequestError(`malformed multipart body: ${parseError.message}`) : failure;
      if (err) reject(err);
      else resolve(result);
    };
    parser.on("close", () => void finish());
    parser.on("error", (err: Error) => void finish(err));
    req.on("close", () => {
      if (!req.complete) parser.destroy(new Error("the client closed the request before sending all of it"));
    });
    req.pipe(parser);
  });
}

/** Where a file part goes; an error for one the form may not hold. */
function targetOf(field: string, filename: string | undefined, result: ModelParts, dir: string): string | Error {
  if (field === "file") return result.onnx ? new InvalidRequestError("the form has more than one file part") : join(dir, "model.onnx");
  result.tfjs = join(dir, "tfjs");
  if (field === "model.json" || filename === "model.json") return join(result.tfjs, "model.json");
  // A shard's name is a path relative to model.json (its manifest's paths): nothing that climbs out.
  const name = validKey(filename ?? "");
  if (name === undefined || name === "model.json") return new InvalidRequestError(`file part ${field} needs a file name that is a relative path (a shard of model.json), not ${JSON.stringify(filename ?? "")}`);
  return join(result.tfjs, name);
}

/** Streams one part to `path`, hashing it and counting its bytes against the form's limit. */
async function save(file: Readable, path: string, over: (n: number) => boolean, tooLarge: () => Error): Promise<Part> {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash("sha256");
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      bytes += chunk.length;
      if (over(chunk.length)) return cb(tooLarge());
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  // A form cut short errors the part's stream, which pipe() does not pass on: the write must end too.
  file.on("error", (err) => meter.destroy(err));
  file.pipe(meter);
  try {
    await pipeline(meter, createWriteStream(path, { flags: "wx" }));
  } catch (err) {
    // The parser waits on this stream to go on with the rest of the form: drained, never destroyed.
    file.unpipe(meter);
    file.resume();
    throw err;
  }
  return { path, bytes, sha256: hash.digest("hex") };
}

/**
 * The model's ONNX file: the `file` part as sent, or the TF.js model converted (models/tfjs) into
 * `dir/converted.onnx`. InvalidRequestError when the form has neither or both; InvalidModelError
 * when the TF.js model lacks a shard or cannot be converted.
 */
export async function onnxFileOf(parts: ModelParts, dir: string): Promise<ModelFile> {
  if (parts.onnx && parts.tfjs) throw new InvalidRequestError("send either one `file` part (ONNX) or a TF.js model (`model.json` and its shards), not both");
  if (parts.onnx) return parts.onnx;
  if (!parts.tfjs) throw new InvalidRequestError("the form has no model: send a `file` part (ONNX) or a `model.json` part and its weight shards (TF.js)");
  let text: string;
  try {
    text = await readFile(join(parts.tfjs, "model.json"), "utf8");
  } catch {
    throw new InvalidRequestError("the form has weight shards but no `model.json` part");
  }
  const manifest = TfjsModelJson.safeParse(parseJson(text));
  if (!manifest.success) throw new InvalidModelError("model.json is not a TF.js layers model this converter reads");
  await requireShards(parts.tfjs, manifest.data.weightsManifest.flatMap((g) => g.paths));
  let bytes: Uint8Array;
  try {
    bytes = convertTfjsLayers(await readTfjsModel(parts.tfjs));
  } catch (err) {
    throw new InvalidModelError(`the TF.js model cannot be converted to ONNX: ${(err as Error).message}`, { cause: err });
  }
  const path = join(dir, "converted.onnx");
  await writeFile(path, bytes);
  return { path, bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidModelError("model.json is not JSON");
  }
}

async function requireShards(dir: string, paths: string[]): Promise<void> {
  const missing: string[] = [];
  for (const path of paths) {
    if (validKey(path) === undefined) throw new InvalidModelError(`model.json names a weight shard outside its folder: ${JSON.stringify(path)}`);
    await stat(join(dir, path)).then(() => undefined, () => missing.push(path));
  }
  if (missing.length) throw new InvalidModelError(`the form lacks the weight shards model.json names: ${missing.join(", ")} (send each as a file part with that file name)`);
}
