import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { DependencyUnavailableError } from "../../../common/errors.js";

/** How long a ticket may wait for its WebSocket. */
export const TICKET_TTL_MS = 60_000;

/** 32 random bytes, base64url: valid as a subprotocol token (RFC 6455 allows `-` and `_`). */
const TICKET = /^[A-Za-z0-9_-]{43}$/;

/**
 * Short-lived, single-use tickets for `/v1/ws`: a browser cannot set headers on a WebSocket, and
 * a key in the URL would end up in access logs and history. POST /v1/ws/tickets (with the key)
 * issues one; the browser sends it as a subprotocol. Redis keeps only its SHA-256 with the id of
 * the key that asked, for 60 s, and GETDEL redeems it once on whichever replica takes the socket.
 */
export class WsTickets {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly ttlMs = TICKET_TTL_MS) {}

  async issue(keyId: string, now = new Date()): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString("base64url");
    await this.call(() => this.redis.set(this.key(ticket), keyId, "PX", this.ttlMs));
    return { ticket, expiresAt: new Date(now.getTime() + this.ttlMs) };
  }

  /** The id of the key the ticket was issued to; undefined when it is unknown, used or expired. */
  async redeem(ticket: string): Promise<string | undefined> {
    if (!TICKET.test(ticket)) return undefined;
    return (await this.call(() => this.redis.getdel(this.key(ticket)))) ?? undefined;
  }

  private key(ticket: string): string {
    return `${this.prefix}:ws-ticket:${createHash("sha256").update(ticket).digest("hex")}`;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new DependencyUnavailableError("redis", { cause: err });
    }
  }
}
