/** The events a job's webhook may ask for (spec.webhook.events, the API's `webhookEvents`). */
export const WEBHOOK_EVENTS = ["queued", "running", "completed", "progress"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Sent when a webhook names no events: the job's life, without progress. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ["queued", "running", "completed"];
