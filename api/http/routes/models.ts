import { Router } from "express";
import type { Authenticate } from "../../domain/authenticate.js";
import type { Cluster } from "../../domain/ports.js";
import { principalOf, requireKey } from "../auth.js";
import type { ModelList } from "../schemas.js";

/** GET /v1/models: the ImageModels the caller's jobs can name (the platform's and its own), with the params each takes. */
export function modelRoutes(deps: { cluster: Cluster; auth: Authenticate }): Router {
  const router = Router();
  router.get("/v1/models", requireKey(deps.auth, "models:read"), async (_req, res) => {
    const models = await deps.cluster.listModels(principalOf(res).namespace);
    const items: ModelList["items"] = models
      .map((m) => ({ name: m.metadata.name ?? "", task: m.spec.task, params: m.spec.params ?? [] }))
      .sort((a, b) => a.name.localeCompare(b.name));
    res.json({ items });
  });
  return router;
}
