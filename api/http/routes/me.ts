import { Router } from "express";
import type { Authenticate } from "../../domain/authenticate.js";
import { principalOf, requireKey } from "../auth.js";
import type { MeView } from "../schemas.js";
import { MAX_FORM_IMAGES } from "./jobs.js";

/** GET /v1/me: the caller's tenant, key and scopes, for any valid key (the console's sign-in and menus). */
export function meRoutes(deps: { auth: Authenticate; maxUploadBytes: number }): Router {
  const router = Router();
  router.get("/v1/me", requireKey(deps.auth, undefined), (_req, res) => {
    const p = principalOf(res);
    const view: MeView = {
      tenant: { id: p.tenantId, name: p.tenantName, namespace: p.namespace },
      key: { id: p.keyId, ...(p.keyName === undefined ? {} : { name: p.keyName }) },
      scopes: [...p.scopes],
      limits: { max_upload_bytes: deps.maxUploadBytes, max_form_images: MAX_FORM_IMAGES },
    };
    res.json(view);
  });
  return router;
}
