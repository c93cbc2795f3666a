import type { Request } from "express";
import busboy from "busboy";
import type { Readable } from "node:stream";
import { InvalidRequestError, TenantCapError, UnsupportedImageTypeError, UploadTooLargeError } from "../domain/errors.js";
import type { StoredUpload } from "../domain/upload.js";
import { FormTooLargeError } from "./http-errors.js";

export interface MultipartOptions {
  /** The one file field taken; other files are read and dropped. */
  fileField: string;
  /** Consumes the file stream (storeUpload). */
  upload: (file: Readable) => Promise<StoredUpload>;
  /** Removes an upload that succeeded when the request as a whole failed. */
  discard: (key: string) => Promise<void>;
}

export interface MultipartForm {
  fields: Record<string, string>;
  upload?: StoredUpload;
}

// A few files are allowed so that one sent before `image` does not crowd it out; they are dropped.
// A form past a count limit is refused (413, naming the limit), never read with parts left out.
const LIMITS = { fields: 16, fieldSize: 64 * 1024, files: 4, parts: 32 };
// busboy says partsLimit once `parts` parts have ended, when none may follow: one more tells "more than".
const BUSBOY_LIMITS = { ...LIMITS, parts: LIMITS.parts + 1 };

/**
 * Parses a multipart/form-data request as it arrives: fields in memory (small), the file
 * straight into `upload`. Settles once the whole request is read, so an error answer never
 * races the client still sending.
 */
export function receiveMultipart(req: Request, opts: MultipartOptions): Promise<MultipartForm> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: BUSBOY_LIMITS });
    } catch (err) {
      reject(new InvalidRequestError(`cannot read the multipart body: ${(err as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    let fieldProblem: InvalidRequestError | undefined;
    let overLimit: FormTooLargeError | undefined;
    let uploading: Promise<StoredUpload> | undefined;
    let finished = false;

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) fieldProblem ??= new InvalidRequestError(`field ${name} is longer than ${LIMITS.fieldSize} bytes`);
      else fields[name] = value;
    });
    // busboy skips what is past a limit and goes on; the request is refused once it is all read.
    const hit = (unit: "fields" | "files" | "parts") => () => void (overLimit ??= new FormTooLargeError(unit, LIMITS[unit]));
    parser.on("fieldsLimit", hit("fields"));
    parser.on("filesLimit", hit("files"));
    parser.on("partsLimit", hit("parts"));
    parser.on("file", (name, file) => {
      if (name !== opts.fileField || uploading) {
        // A form cut short errors each open file stream too; the parser's own error answers the
        // request, and without a listener this one would be thrown and end the process.
        file.on("error", () => {});
        file.resume();
        return;
      }
      uploading = opts.upload(file);
      uploading.catch(() => {}); // settled in finish
    });

    const finish = async (parseError?: Error) => {
      if (finished) return;
      finished = true;
      req.unpipe(parser);
      const outcome = await uploading?.then((upload) => ({ upload }), (error: unknown) => ({ error }));
      const upload = outcome && "upload" in outcome ? outcome.upload : undefined;
      const failure = pickFailure(outcome && "error" in outcome ? outcome.error : undefined, parseError, overLimit, fieldProblem);
      if (failure === undefined) return resolve({ fields, upload });
      if (upload) await opts.discard(upload.key);
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
