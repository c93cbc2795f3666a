import { Webhook } from "standardwebhooks";

/** The headers of one signed message (Standard Webhooks). */
export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/**
 * Signs `body` with every secret (`whsec_...`) that signs now, the newest first: during a
 * rotation's grace period receivers holding either secret can verify. The signature of each is
 * the standardwebhooks package's (base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`, `v1,` before
 * it), space-separated.
 */
export function signWebhook(secrets: readonly string[], id: string, at: Date, body: string): SignedHeaders {
  if (secrets.length === 0) throw new Error("a webhook needs at least one secret to be signed");
  const signatures = secrets.map((secret) => new Webhook(secret).sign(id, at, body));
  return { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signatures.join(" ") };
}
