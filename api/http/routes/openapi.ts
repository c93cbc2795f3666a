import { Router } from "express";
import { openApiDocument } from "../openapi.js";

/** GET /openapi.json: the API's OpenAPI 3.1 document, built once; no key needed. */
export function openApiRoutes(deps: { publicUrl: string }): Router {
  const router = Router();
  let body: string | undefined;
  router.get("/openapi.json", (_req, res) => {
    body ??= JSON.stringify(openApiDocument({ serverUrl: deps.publicUrl.replace(/\/+$/, "") }));
    res.type("application/json").set("Cache-Control", "public, max-age=300").send(body);
  });
  return router;
}
