import { describe, expect, it } from "vitest";
import { verifyStandardWebhook } from "../../test/support/webhook-receiver.js";
import { newWebhookSecret, SecretBox } from "./secret-box.js";
import { signWebhook } from "./webhook-signature.js";

describe("signWebhook", () => {
  const body = JSON.stringify({ type: "job.completed", data: { id: "x" } });
  const at = new Date("2026-12-01T10:00:00.500Z");

  it("writes the Standard Webhooks headers: the id, the timestamp in whole seconds, v1,<base64> per secret", () => {
    const secret = newWebhookSecret();
    const headers = signWebhook([secret], "msg_1", at, body);
    expect(headers["webhook-id"]).toBe("msg_1");
    expect(headers["webhook-timestamp"]).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verifyStandardWebhook(secret, headers, body)).toBe(true);
  });

  it("signs with every secret, space-separated, each verifiable alone; a changed body or another secret fails", () => {
    const [current, old] = [newWebhookSecret(), newWebhookSecret()];
    const headers = signWebhook([current, old], "msg_2", at, body);
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(verifyStandardWebhook(current, headers, body)).toBe(true);
    expect(verifyStandardWebhook(old, headers, body)).toBe(true);
    expect(verifyStandardWebhook(newWebhookSecret(), headers, body)).toBe(false);
    expect(verifyStandardWebhook(current, headers, `${body} `)).toBe(false);
    expect(verifyStandardWebhook(current, { ...headers, "webhook-id": "msg_3" }, body)).toBe(false);
  });

  it("refuses to sign without a secret", () => {
    expect(() => signWebhook([], "msg_4", at, body)).toThrow(/at least one secret/);
  });
});

describe("secrets", () => {
  it("are whsec_ and base64 of 32 random bytes", () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it("are sealed so that only the key opens them, and a tampered seal is refused", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const box = new SecretBox(key);
    const secret = newWebhookSecret();
    const sealed = box.seal(secret);
    expect(sealed).not.toContain(secret.slice(6));
    expect(box.open(sealed)).toBe(secret);
    expect(() => new SecretBox(Buffer.alloc(32, 8).toString("base64")).open(sealed)).toThrow();
    const raw = Buffer.from(sealed.slice(3), "base64url");
    raw.writeUInt8(raw.readUInt8(raw.length - 1) ^ 1, raw.length - 1);
    expect(() => box.open(`v1.${raw.toString("base64url")}`)).toThrow();
    expect(() => new SecretBox(Buffer.alloc(16).toString("base64"))).toThrow(/32 bytes/);
  });
});
