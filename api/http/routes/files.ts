import { Router } from "express";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../../../common/logger.js";
import { validKey, type ObjectStore, type UrlSigner } from "../../../common/storage/index.js";
import { ObjectNotFoundError } from "../../../common/errors.js";
import { ForbiddenError } from "../http-errors.js";

/**
 * GET /v1/files/<key>?expires=&sig=: objects of a file:// store, for the signed URLs it hands
 * out in place of S3's presigned ones. Without a signer (S3 storage) there is nothing here.
 */
export function fileRoutes(deps: { store: ObjectStore; signer?: UrlSigner; log: Logger }): Router {
  const router = Router();
  router.get("/v1/files/*key", async (req, res) => {
    const { signer } = deps;
    if (!signer) throw new ObjectNotFoundError(req.path);
    const segments = req.params.key;
    const key = validKey(Array.isArray(segments) ? segments.join("/") : String(segments));
    const { expires, sig } = req.query;
    if (key === undefined || !signer.verify(key, typeof expires === "string" ? expires : undefined, typeof sig === "string" ? sig : undefined)) {
      throw new ForbiddenError("the link is not valid or has expired");
    }
    const object = await deps.store.get(key);
    res.status(200).set({
      "Content-Type": object.contentType ?? "application/octet-stream",
      "Content-Length": String(object.bytes),
      "Cache-Control": "private, max-age=60",
    });
    await pipeline(object.body, res).catch((err: unknown) => {
      // Mid-stream the status is sent: all that is left is to cut the response short.
      deps.log.warn({ key, err }, "File download ended early");
      res.destroy();
    });
  });
  return router;
}
