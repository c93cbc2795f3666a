import { Router } from "express";
import type { Authenticate } from "../../domain/authenticate.js";
import { principalOf, requireKey } from "../auth.js";
import type { MeView } from "../schemas.js";

/** GET /v1/me: the caller's tenant, key and scopes, for any valid key (the console's sign-in and menus). */
export function meRoutes(deps: { auth: Authenticate }): Router {
  const router = Router();
  router.get("/v1/me", requireKey(deps.auth, undefined), (_req, res) => {
    const p = principalOf(res);
    const view: MeView = {
      tenant: { id: p.tenantId, name: p.tenantName, namespace: p.namespace },
      key: { id: p.keyId, ...(p.keyName === undefined ? {} : { name: p.keyName }) },
      scopes: [...p.scopes],
    };
    res.json(view);
  });
  return router;
}
