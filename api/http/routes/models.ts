import { Router } from "express";
import type { Cluster } from "../../domain/ports.js";

/** GET /v1/models: the ImageModels jobs can name, with the params each takes. */
export function modelRoutes(deps: { cluster: Cluster }): Router {
  const router = Router();
  router.get("/v1/models", async (_req, res) => {
    const models = await deps.cluster.listModels();
    const items = models
      .map((m) => ({ name: m.metadata.name ?? "", task: m.spec.task, params: m.spec.params ?? [] }))
      .sort((a, b) => a.name.localeCompare(b.name));
    res.json({ items });
  });
  return router;
}
