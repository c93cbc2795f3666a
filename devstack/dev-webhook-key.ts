import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";

/**
 * `npm run dev`'s WEBHOOK_SECRETS_KEY, kept in `path` (.pixelmill/webhook-secrets-key) so the
 * tenants' signing secrets in the development database stay readable from one run to the next.
 */
export async function ensureDevWebhookKey(path: string): Promise<string> {
  const kept = await readFile(path, "utf8").then((k) => k.trim(), () => "");
  if (Buffer.from(kept, "base64").length === 32) return kept;
  const key = randomBytes(32).toString("base64");
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  return key;
}
