import express, { Router } from "express";
import type { z } from "zod";
import type { Authenticate } from "../../domain/authenticate.js";
import { InvalidRequestError } from "../../domain/errors.js";
import type { ManageWebhooks } from "../../domain/manage-webhooks.js";
import type { WebhookDelivery, WebhookSecretView } from "../../domain/webhook-ports.js";
import { principalOf, requireKey } from "../auth.js";
import { webhookDeliveryQuery, webhookEndpoint, type WebhookDeliveryView, type WebhookSecretsView } from "../webhook-schemas.js";

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidRequestError(`the ${what} is not valid`, parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message })));
}

/**
 * A tenant's webhooks (docs/webhooks.md): deliveries and their attempts (`jobs:read`),
 * redelivery (`jobs:write`), the signing secrets and disabled endpoints (`keys:admin`, as the
 * tenant's keys). Every route sees the key's own tenant only.
 */
export function webhookRoutes(deps: { webhooks: ManageWebhooks; auth: Authenticate }): Router {
  const router = Router();
  const read = requireKey(deps.auth, "jobs:read");
  const write = requireKey(deps.auth, "jobs:write");
  const admin = requireKey(deps.auth, "keys:admin");
  const json = express.json({ limit: "8kb" });

  router.get("/v1/jobs/:id/webhook-deliveries", read, async (req, res) => {
    const items = await deps.webhooks.forJob(principalOf(res), String(req.params.id));
    res.json({ items: items.map(deliveryView), next_cursor: null });
  });
  router.get("/v1/webhook-deliveries", read, async (req, res) => {
    const q = parse(webhookDeliveryQuery, req.query, "query");
    const page = await deps.webhooks.list(principalOf(res), q.limit, q.cursor);
    res.json({ items: page.items.map(deliveryView), next_cursor: page.nextCursor });
  });
  router.post("/v1/webhook-deliveries/:id/redeliver", write, async (req, res) => {
    await deps.webhooks.redeliver(principalOf(res), String(req.params.id));
    res.status(202).end();
  });
  router.get("/v1/webhook-secrets", admin, async (_req, res) => {
    res.json(secretsView(await deps.webhooks.secrets(principalOf(res))));
  });
  router.post("/v1/webhook-secrets/rotate", admin, async (_req, res) => {
    res.status(201).json(secretsView(await deps.webhooks.rotate(principalOf(res))));
  });
  router.post("/v1/webhook-endpoints/enable", admin, json, async (req, res) => {
    await deps.webhooks.enableEndpoint(principalOf(res), parse(webhookEndpoint, req.body, "request body").url);
    res.status(204).end();
  });
  return router;
}

function deliveryView(d: WebhookDelivery): WebhookDeliveryView {
  return {
    id: d.id, job_id: d.jobUid, event: d.event as WebhookDeliveryView["event"], url: d.url, state: d.state as WebhookDeliveryView["state"],
    created_at: d.createdAt.toISOString(), next_attempt_at: d.nextAttemptAt?.toISOString() ?? null, finished_at: d.finishedAt?.toISOString() ?? null,
    attempts: d.attempts.map((a) => ({
      at: a.at.toISOString(), outcome: a.outcome as WebhookDeliveryView["attempts"][number]["outcome"], status_code: a.statusCode, latency_ms: a.latencyMs,
      response_excerpt: a.responseExcerpt, error: a.error,
    })),
  };
}

function secretsView(secrets: WebhookSecretView[]): WebhookSecretsView {
  return { items: secrets.map((s) => ({ secret: s.secret, created_at: s.createdAt.toISOString(), retires_at: s.retiresAt?.toISOString() ?? null })) };
}
