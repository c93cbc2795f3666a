import { pipeline } from "node:stream/promises";
import { Router } from "express";
import { z } from "zod";
import { BATCH_MANIFEST_CONTENT_TYPE } from "../../../common/batch.js";
import type { Logger } from "../../../common/logger.js";
import type { Authenticate } from "../../domain/authenticate.js";
import type { BatchItems } from "../../domain/batch-items.js";
import { InvalidRequestError } from "../../domain/errors.js";
import { principalOf, requireKey } from "../auth.js";
import { presentBatchItems } from "../batch-item-presenter.js";
import type { JobPresenter } from "../job-presenter.js";

export interface BatchItemRoutesDeps {
  items: BatchItems;
  presenter: Pick<JobPresenter, "outputView">;
  auth: Authenticate;
  log: Logger;
}

export const itemListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  // decodeItemCursor checks it.
  cursor: z.string().min(1).max(64).optional(),
});

/** A batch job's items (GET /v1/jobs/:id/items) and its manifest (GET /v1/jobs/:id/manifest); docs/batch.md. */
export function batchItemRoutes(deps: BatchItemRoutesDeps): Router {
  const router = Router();
  const read = requireKey(deps.auth, "jobs:read");

  router.get("/v1/jobs/:id/items", read, async (req, res) => {
    const parsed = itemListQuery.safeParse(req.query);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
      throw new InvalidRequestError("the query parameters are not valid", issues);
    }
    const page = await deps.items.page(principalOf(res), String(req.params.id), parsed.data);
    res.json(await presentBatchItems(page, deps.presenter));
  });

  router.get("/v1/jobs/:id/manifest", read, async (req, res) => {
    const manifest = await deps.items.manifest(principalOf(res), String(req.params.id));
    res.status(200).type(BATCH_MANIFEST_CONTENT_TYPE).setHeader("Content-Length", String(manifest.bytes));
    try {
      await pipeline(manifest.body, res);
    } catch (err) {
      // Headers are sent: the client sees a cut body; nothing else can be said to it.
      deps.log.warn({ job: String(req.params.id), err }, "Manifest stream ended early");
    }
  });

  return router;
}
