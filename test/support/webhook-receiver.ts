import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Standard Webhooks verification written from the specification, independent of the
 * `standardwebhooks` package the sender signs with: the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 keyed with the base64-decoded part of
 * the secret after `whsec_`, base64; webhook-signature is a space-separated list of `v1,<sig>`.
 * True when any listed signature matches `secret`.
 */
export function verifyStandardWebhook(secret: string, headers: Partial<Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string>>, body: string): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((entry) => {
    const [version, sig] = entry.split(",", 2);
    if (version !== "v1" || !sig) return false;
    const given = Buffer.from(sig, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** A webhook endpoint on 127.0.0.1 that records every POST and answers as told (200 by default). */
export interface WebhookReceiver {
  url(path?: string): string;
  received: ReceivedWebhook[];
  /** The next answers to POSTs on `path`, in order; then 200. */
  answer(path: string, ...statuses: number[]): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const scripted = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "/";
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : v]));
      received.push({ path, headers, body, payload: JSON.parse(body) as ReceivedWebhook["payload"] });
      const status = scripted.get(path)?.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(`answered ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path = "/hook") => `${base}${path}`,
    received,
    answer: (path, ...statuses) => scripted.set(path, [...(scripted.get(path) ?? []), ...statuses]),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
