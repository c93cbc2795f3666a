import { z } from "zod";

// The shapes of the webhook routes' answers (docs/webhooks.md); openapi.ts documents them.

const timestamp = z.iso.datetime({ offset: true });

export const webhookAttemptSchema = z.object({
  at: timestamp,
  outcome: z.enum(["delivered", "failed", "refused", "disabled"]).describe("refused: the address policy (or no tenant); disabled: the endpoint answered 410 Gone, now or earlier"),
  status_code: z.int().nullable().describe("the receiver's HTTP status; null when none answered"),
  latency_ms: z.int().nullable(),
  response_excerpt: z.string().nullable().describe("the first bytes of the receiver's answer (WEBHOOK_RESPONSE_EXCERPT_BYTES)"),
  error: z.string().nullable(),
});

export const webhookDeliverySchema = z.object({
  id: z.string().describe("the message's id; its webhook-id header is msg_<id>"),
  job_id: z.string(),
  event: z.enum(["queued", "running", "completed", "progress"]),
  url: z.string(),
  state: z.enum(["pending", "sending", "delivered", "dead", "refused", "disabled", "superseded"])
    .describe("dead: every retry failed; superseded: a progress report replaced by a newer one"),
  created_at: timestamp,
  next_attempt_at: timestamp.nullable().describe("while pending: when it is tried next"),
  finished_at: timestamp.nullable(),
  attempts: z.array(webhookAttemptSchema),
});

export const webhookDeliveryListSchema = z.object({
  items: z.array(webhookDeliverySchema),
  next_cursor: z.string().nullable().describe("pass as `cursor` for the next page; null on the last"),
});

export const webhookSecretsSchema = z.object({
  items: z.array(z.object({
    secret: z.string().describe("whsec_ and base64 of 32 bytes: verify webhook-signature with it"),
    created_at: timestamp,
    retires_at: timestamp.nullable().describe("null for the current secret; a rotated-out one signs beside it until then"),
  })).describe("every secret that signs now, the current one first"),
});

export const webhookDeliveryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(64).optional(),
});

export const webhookEndpoint = z.strictObject({ url: z.string().min(1).max(2048).describe("the endpoint to send to again") });

export type WebhookDeliveryView = z.infer<typeof webhookDeliverySchema>;
export type WebhookSecretsView = z.infer<typeof webhookSecretsSchema>;
