import type { Request } from "express";
import busboy from "busboy";
import type { Readable } from "node:stream";
import { InvalidRequestError, TenantCapError, UnsupportedImageTypeError, UploadTooLargeError } from "../domain/errors.js";
import type { StoredUpload } from "../domain/upload.js";
import { FormTooLargeError } from "./http-errors.js";

export interface MultipartOptions {
  /** The file field taken; files of other fields are read and dropped. */
  fileField: string;
  /** How many `fileField` files the form may carry; 1 by default. One more is refused (413, naming the limit). */
  maxFiles?: number;
  /** Consumes one file stream (storeUpload); called for each file, in the order they arrive. */
  upload: (file: Readable) => Promise<StoredUpload>;
  /** Removes an upload that succeeded when the request as a whole failed. */
  discard: (key: string) => Promise<void>;
}

export interface MultipartForm {
  fields: Record<string, string>;
  /** The `fileField` files, in the order sent. */
  files: FormFile[];
}

export interface FormFile {
  upload: StoredUpload;
  /** The file part's filename as the client sent it (raw: sanitizeFilename it before use). */
  filename?: string;
}

// A few other files are allowed so that one sent before `image` does not crowd it out; they are dropped.
// A form past a count limit is refused (413, naming the limit), never read with parts left out.
const LIMITS = { fields: 16, fieldSize: 64 * 1024, otherFiles: 3, parts: 32 };

/** The limits of a form of `maxFiles` files; busboy says partsLimit once `parts` parts have ended, when none may follow: one more tells "more than". */
function limitsFor(maxFiles: number) {
  const files = maxFiles + LIMITS.otherFiles;
  return { shown: { fields: LIMITS.fields, files, parts: LIMITS.parts + maxFiles }, busboy: { fields: LIMITS.fields, fieldSize: LIMITS.fieldSize, files, parts: LIMITS.parts + maxFiles + 1 } };
}

/**
 * Parses a multipart/form-data request as it arrives: fields in memory (small), the file
 * straight into `upload`. Settles once the whole request is read, so an error answer never
 * races the client still sending.
 */
export function receiveMultipart(req: Request, opts: MultipartOptions): Promise<MultipartForm> {
  const maxFiles = opts.maxFiles ?? 1;
  const limits = limitsFor(maxFiles);
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // Browsers send a file name's UTF-8 bytes as they are (RFC 7578 4.2), not latin1, busboy's default.
      parser = busboy({ headers: req.headers, limits: limits.busboy, defParamCharset: "utf8" });
    } catch (err) {
      reject(new InvalidRequestError(`cannot read the multipart body: ${(err as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    let fieldProblem: InvalidRequestError | undefined;
    let overLimit: FormTooLargeError | undefined;
    // One at a time: busboy hands over the next part once this file's stream is read.
    const uploading: Array<{ stored: Promise<StoredUpload>; filename: string | undefined }> = [];
    let others = 0;
    let finished = false;

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) fieldProblem ??= new InvalidRequestError(`field ${name} is longer than ${LIMITS.fieldSize} bytes`);
      else fields[name] = value;
    });
    // busboy skips what is past a limit and goes on; the request is refused once it is all read.
    const hit = (unit: "fields" | "files" | "parts") => () => void (overLimit ??= new FormTooLargeError(unit, limits.shown[unit]));
    parser.on("fieldsLimit", hit("fields"));
    parser.on("filesLimit", hit("files"));
    parser.on("partsLimit", hit("parts"));
    parser.on("file", (name, file, info) => {
      if (name === opts.fileField && uploading.length === maxFiles) overLimit ??= new FormTooLargeError(`${opts.fileField} files`, maxFiles);
      if (name !== opts.fileField && ++others > LIMITS.otherFiles) overLimit ??= new FormTooLargeError(`files besides ${opts.fileField}`, LIMITS.otherFiles);
      if (name !== opts.fileField || uploading.length === maxFiles) {
        // A form cut short errors each open file stream too; the parser's own error answers the
        // request, and without a listener this one would be thrown and end the process.
        file.on("error", () => {});
        file.resume();
        return;
      }
      const stored = opts.upload(file);
      stored.catch(() => {}); // settled in finish
      uploading.push({ stored, filename: info.filename });
    });

    const finish = async (parseError?: Error) => {
      if (finished) return;
      finished = true;
      req.unpipe(parser);
      const outcomes = await Promise.all(uploading.map(({ stored }) => stored.then((upload) => ({ upload }), (error: unknown) => ({ error }))));
      const files = uploading.flatMap(({ filename }, i) => {
        const outcome = outcomes[i]!;
        return "upload" in outcome ? [{ upload: outcome.upload, ...(filename === undefined ? {} : { filename }) }] : [];
      });
      const uploadError = outcomes.find((o): o is { error: unknown } => "error" in o)?.error;
      const failure = pickFailure(uploadError, parseError, overLimit, fieldProblem);
      if (failure === undefined) return resolve({ fields, files });
      await Promise.all(files.map(({ upload }) => opts.discard(upload.key)));
      reject(failure instanceof Error ? failure : new Error("the upload failed", { cause: failure }));
    };
    parser.on("close", () => void finish());
    parser.on("error", (err: Error) => void finish(err));
    // A client that goes away mid-upload: the parser's error ends the file stream, and with it the upload.
    req.on("close", () => {
      if (!req.complete) parser.destroy(new Error("the client closed the request before sending all of it"));
    });
    req.pipe(parser);
  });
}

/** What the client did wrong comes first; a failing store only when nothing else explains it. */
function pickFailure(uploadError: unknown, parseError: Error | undefined, overLimit: Error | undefined, fieldProblem: Error | undefined): unknown {
  if (uploadError instanceof UploadTooLargeError || uploadError instanceof UnsupportedImageTypeError || uploadError instanceof TenantCapError) return uploadError;
  if (overLimit) return overLimit;
  if (parseError) return new InvalidRequestError(`malformed multipart body: ${parseError.message}`);
  return uploadError ?? fieldProblem;
}
