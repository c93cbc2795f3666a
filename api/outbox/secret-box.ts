import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** A new signing secret: `whsec_` and base64 of 32 random bytes (Standard Webhooks). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * Seals tenants' signing secrets for Postgres with AES-256-GCM under WEBHOOK_SECRETS_KEY (ADR
 * 0027): a database dump or replica alone does not let anyone sign as the platform. A sealed
 * value is `v1.` and base64url of the 12-byte IV, the 16-byte tag and the ciphertext.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(keyBase64: string) {
    this.key = Buffer.from(keyBase64, "base64");
    if (this.key.length !== 32) throw new Error("WEBHOOK_SECRETS_KEY must be base64 of 32 bytes");
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64url")}`;
  }

  open(sealed: string): string {
    if (!sealed.startsWith("v1.")) throw new Error("not a sealed webhook secret");
    const raw = Buffer.from(sealed.slice(3), "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }
}
