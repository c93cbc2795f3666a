import { pipeline } from "node:stream/promises";
import { Router, type Response } from "express";
import type { Logger } from "../../../common/logger.js";
import type { Authenticate } from "../../domain/authenticate.js";
import type { JobFile, JobFiles } from "../../domain/job-files.js";
import { principalOf, requireKey } from "../auth.js";

/**
 * A job's output and its uploaded input as downloads (GET /v1/jobs/:id/output, /input), streamed
 * from storage through the API: the console saves them under the original file's name.
 */
export function jobFileRoutes(deps: { files: JobFiles; auth: Authenticate; log: Logger }): Router {
  const router = Router();
  const read = requireKey(deps.auth, "jobs:read");

  router.get("/v1/jobs/:id/output", read, async (req, res) => {
    await send(res, await deps.files.output(principalOf(res), String(req.params.id)), deps.log);
  });
  router.get("/v1/jobs/:id/input", read, async (req, res) => {
    await send(res, await deps.files.input(principalOf(res), String(req.params.id)), deps.log);
  });
  return router;
}

async function send(res: Response, file: JobFile, log: Logger): Promise<void> {
  // express's attachment() writes RFC 6266's filename (ISO-8859-1) and, for other names, filename* (UTF-8), by the content-disposition package.
  res.attachment(file.filename);
  res.status(200).type(file.contentType);
  res.setHeader("Content-Length", String(file.bytes));
  res.setHeader("Cache-Control", "private, no-store");
  // A tenant's bytes, never to be run as a page or a script of this origin.
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Content-Security-Policy", "default-src 'none'; sandbox");
  try {
    await pipeline(file.body, res);
  } catch (err) {
    // Headers are sent: the client sees a cut body; nothing else can be said to it.
    log.warn({ err, filename: file.filename }, "Job file stream ended early");
  }
}
