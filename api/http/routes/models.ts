import { Router } from "express";
import type { ImageModel, ModelInput } from "../../../common/crd-types.js";
import type { Authenticate } from "../../domain/authenticate.js";
import type { Cluster } from "../../domain/ports.js";
import { principalOf, requireKey } from "../auth.js";
import type { ModelView } from "../schemas.js";

/**
 * GET /v1/models: the ImageModels the caller's jobs can name (the platform's and its own), with
 * their tensor contract, params and provenance.
 */
export function modelRoutes(deps: { cluster: Cluster; auth: Authenticate }): Router {
  const router = Router();
  router.get("/v1/models", requireKey(deps.auth, "models:read"), async (_req, res) => {
    const models = await deps.cluster.listModels(principalOf(res).namespace);
    res.json({ items: models.map(presentModel).sort((a, b) => a.name.localeCompare(b.name)) });
  });
  return router;
}

/** Never the source URI: a platform model's bucket and path are not the tenants' business; its sha256 identifies the file. */
function presentModel({ metadata, spec }: ImageModel): ModelView {
  return {
    name: metadata.name ?? "",
    task: spec.task,
    license: spec.license ?? null,
    origin: spec.origin ?? null,
    sha256: spec.source.sha256 ?? null,
    input: spec.input ? presentInput(spec.input) : null,
    output: spec.output ?? null,
    params: spec.params ?? [],
  };
}

function presentInput({ colorOrder, sizeMultiple, maxPixels, ...same }: ModelInput): ModelView["input"] {
  return { ...same, color_order: colorOrder, size_multiple: sizeMultiple, max_pixels: maxPixels };
}
