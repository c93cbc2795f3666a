import { Router } from "express";
import type { Authenticate } from "../../domain/authenticate.js";
import { principalOf, requireKey } from "../auth.js";
import type { WsTicketView } from "../schemas.js";
import type { WsTickets } from "./ws-tickets.js";

/**
 * POST /v1/ws/tickets (jobs:read): a single-use ticket, valid 60 s, for a browser to open `/v1/ws`
 * with (as the subprotocol `ticket.<ticket>`), since it cannot send the key in a header there.
 */
export function wsTicketRoutes(deps: { auth: Authenticate; tickets: WsTickets | undefined }): Router {
  const router = Router();
  router.post("/v1/ws/tickets", requireKey(deps.auth, "jobs:read"), async (_req, res) => {
    if (!deps.tickets) throw new Error("this app was made without a WebSocket ticket store (AppDeps.wsTickets)");
    const { ticket, expiresAt } = await deps.tickets.issue(principalOf(res).keyId);
    const body: WsTicketView = { ticket, expires_at: expiresAt.toISOString() };
    res.status(201).set("cache-control", "no-store").json(body);
  });
  return router;
}
