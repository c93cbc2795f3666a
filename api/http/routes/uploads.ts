import express, { Router } from "express";
import { z } from "zod";
import { IMAGE_TYPES } from "../../../common/image-sniff.js";
import { validKey } from "../../../common/storage/index.js";
import type { Authenticate } from "../../domain/authenticate.js";
import type { DirectUploads } from "../../domain/direct-upload.js";
import { InvalidRequestError, UploadTooLargeError } from "../../domain/errors.js";
import { principalOf, requireKey } from "../auth.js";
import { ForbiddenError, UnsupportedMediaTypeError } from "../http-errors.js";

const CONTENT_TYPES = IMAGE_TYPES.map((t) => t.contentType) as [string, ...string[]];

export const newUpload = z.strictObject({
  content_type: z.enum(CONTENT_TYPES).describe("the image's type; S3 (or the API) refuses a file sent with any other"),
  filename: z.string().max(1024).optional().describe("the file's name, shown as the job's input.filename and naming its output download; base name only, at most 255 characters are kept"),
  bytes: z.int().min(1).optional().describe("the file's size, at most MAX_UPLOAD_BYTES; the upload may be no larger. Counted against the tenant's upload bytes of the day when the URL is handed out (MAX_UPLOAD_BYTES when left out)"),
});

/**
 * POST /v1/uploads hands out a direct upload (api/domain/direct-upload.ts); PUT
 * /v1/uploads/<key>?expires=&sig=&max= takes the file where the store is a folder (S3 takes its
 * own presigned POST). The PUT carries no API key: its signature is the grant, as for /v1/files.
 */
export function uploadRoutes(deps: { uploads: DirectUploads; auth: Authenticate; beforeUpload?: () => Promise<void> }): Router {
  const router = Router();

  router.post("/v1/uploads", requireKey(deps.auth, "jobs:write"), express.json({ limit: "16kb" }), async (req, res) => {
    if (!req.is("application/json")) throw new UnsupportedMediaTypeError("send the upload's content_type (and bytes) as application/json");
    const parsed = newUpload.safeParse(req.body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
      throw new InvalidRequestError("the request body is not a valid upload", issues);
    }
    const upload = await deps.uploads.create(principalOf(res), { contentType: parsed.data.content_type, bytes: parsed.data.bytes, filename: parsed.data.filename });
    res.status(201).json({
      upload: {
        uri: upload.uri, key: upload.key, content_type: upload.contentType, method: upload.method, url: upload.url, fields: upload.fields,
        expires_at: upload.expiresAt.toISOString(), max_bytes: upload.maxBytes,
      },
    });
  });

  router.put("/v1/uploads/*key", async (req, res) => {
    const segments = req.params.key;
    const key = validKey(Array.isArray(segments) ? segments.join("/") : String(segments));
    const q = (name: string) => (typeof req.query[name] === "string" ? req.query[name] : undefined);
    const grant = key === undefined ? undefined : deps.uploads.verifyPut(key, { expires: q("expires"), sig: q("sig"), max: q("max") });
    if (key === undefined || grant === undefined) throw new ForbiddenError("the upload link is not valid or has expired");
    // Told by Content-Length, before a byte is read; a body without one is counted as it comes.
    if (Number(req.headers["content-length"]) > grant.maxBytes) throw new UploadTooLargeError(grant.maxBytes);
    const sent = req.get("content-type")?.split(";")[0]!.trim().toLowerCase();
    // Any other type than the declared one is refused, as S3 refuses it; octet-stream says nothing (the bytes decide).
    if (sent && sent !== "application/octet-stream" && sent !== grant.contentType) throw new UnsupportedMediaTypeError(`this upload was declared as ${grant.contentType}, not ${sent}`);
    await deps.beforeUpload?.();
    const stored = await deps.uploads.receive(key, req, grant.maxBytes);
    res.status(200).json({ key: stored.key, content_type: stored.contentType, bytes: stored.bytes });
  });

  return router;
}
