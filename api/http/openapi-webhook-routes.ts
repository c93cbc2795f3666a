import type { Operation } from "./openapi-routes.js";

const KEYED = [401, 403, 429, 500, 503];

/** The webhook routes (routes/webhooks.ts) as the OpenAPI document describes them. */
export const WEBHOOK_OPERATIONS: Operation[] = [
  {
    method: "get", path: "/v1/jobs/{id}/webhook-deliveries", operationId: "listJobWebhookDeliveries", scope: "jobs:read",
    summary: "The job's webhook messages (one per event) and every attempt to send each.",
    pathParams: { id: "the job's id (its ImageJob's UID)" }, responses: { 200: { description: "the job's deliveries, oldest first", schema: "WebhookDeliveryList" } }, problems: [404, ...KEYED],
  },
  {
    method: "get", path: "/v1/webhook-deliveries", operationId: "listWebhookDeliveries", scope: "jobs:read",
    summary: "The tenant's webhook messages, newest first, with their attempts.",
    query: "WebhookDeliveryQuery", responses: { 200: { description: "a page of deliveries", schema: "WebhookDeliveryList" } }, problems: [400, ...KEYED],
  },
  {
    method: "post", path: "/v1/webhook-deliveries/{id}/redeliver", operationId: "redeliverWebhook", scope: "jobs:write",
    summary: "Send a message again, now (same webhook-id, freshly signed); its retries start over.",
    pathParams: { id: "the delivery's id" }, responses: { 202: { description: "queued for sending", contentType: "text/plain" } }, problems: [404, ...KEYED],
  },
  {
    method: "get", path: "/v1/webhook-secrets", operationId: "getWebhookSecrets", scope: "keys:admin",
    summary: "The tenant's signing secrets that sign now (a first one is made when there is none).",
    responses: { 200: { description: "the secrets", schema: "WebhookSecrets" } }, problems: [400, ...KEYED],
  },
  {
    method: "post", path: "/v1/webhook-secrets/rotate", operationId: "rotateWebhookSecret", scope: "keys:admin",
    summary: "A new current signing secret; the old ones keep signing beside it for WEBHOOK_SECRET_GRACE_SECONDS (24 h).",
    responses: { 201: { description: "the secrets that sign now, the new one first", schema: "WebhookSecrets" } }, problems: [400, ...KEYED],
  },
  {
    method: "post", path: "/v1/webhook-endpoints/enable", operationId: "enableWebhookEndpoint", scope: "keys:admin",
    summary: "Send to an endpoint again after it answered 410 Gone.",
    body: { json: "WebhookEndpoint" }, responses: { 204: { description: "enabled", contentType: "text/plain" } }, problems: [400, 404, ...KEYED],
  },
];
