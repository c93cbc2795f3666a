import { hashApiKey, isWellFormedApiKey } from "../../common/auth/api-key.js";
import type { Logger } from "../../common/logger.js";
import { MissingScopeError, UnauthenticatedError } from "./errors.js";
import { DependencyUnavailableError } from "../../common/errors.js";
import type { ApiKeyRepository, KeyRecord, RateDecision, RequestLimiter } from "./ports.js";
import { hasScope, type Principal, type Scope } from "./principal.js";

/** How stale last_used_at may be: writing it on every request would turn each read into a write. */
const TOUCH_EVERY_MS = 60_000;

/** How often a limiter that cannot be reached is logged while requests pass unlimited. */
const LIMITER_WARN_EVERY_MS = 10_000;

export interface RateLimits {
  limiter: RequestLimiter;
  /** RATE_LIMIT_PER_MINUTE: per key, unless its tenant has its own. */
  defaultPerMinute: number;
}

/**
 * From a bearer key to a principal. The key's hash is looked up in Postgres on every request,
 * with no cache in between, so a revoke or an expiry holds at once on every replica (ADR 0007).
 */
export class Authenticate {
  private limiterWarnedAt = 0;

  constructor(private readonly deps: { keys: ApiKeyRepository; log: Logger; now?: () => Date; rateLimits?: RateLimits }) {}

  /**
   * Counts a request of the principal's key against its budget (ADR 0009); undefined when no
   * limiter is configured, or when Redis cannot be reached: the request then passes unlimited
   * (failing open, with a log line), since refusing every read while Redis is down would turn a
   * queue outage into a whole-API one; a submit is refused with 503 then anyway.
   */
  async admit(principal: Principal): Promise<RateDecision | undefined> {
    const limits = this.deps.rateLimits;
    if (!limits) return undefined;
    const limit = principal.limits?.rateLimitPerMinute ?? limits.defaultPerMinute;
    try {
      return await limits.limiter.take(principal.keyId, limit);
    } catch (err) {
      const now = Date.now();
      if (now - this.limiterWarnedAt >= LIMITER_WARN_EVERY_MS) {
        this.limiterWarnedAt = now;
        this.deps.log.warn({ err: (err as Error).message }, "Rate limiter unavailable (Redis): requests pass unlimited");
      }
      return undefined;
    }
  }

  /** UnauthenticatedError for a missing, malformed, unknown, revoked or expired key, or one of a disabled tenant. */
  async principal(key: string | undefined): Promise<Principal> {
    if (key === undefined) throw new UnauthenticatedError("send an API key: Authorization: Bearer <key>");
    // A typo or a non-key is refused by its checksum, without a database read.
    if (!isWellFormedApiKey(key)) throw new UnauthenticatedError("the API key is malformed");
    return this.active(await this.lookUp(() => this.deps.keys.findByHash(hashApiKey(key))));
  }

  /**
   * The principal of key `id`, checked as principal() checks a key: for a WebSocket ticket, which
   * names the key that asked for it, so a key revoked since is refused when the ticket is used.
   */
  async principalOfKey(id: string): Promise<Principal> {
    return this.active(await this.lookUp(() => this.deps.keys.get(id, undefined)));
  }

  private active(found: KeyRecord | undefined): Principal {
    const now = this.deps.now?.() ?? new Date();
    // A disabled tenant's keys are revoked with it; its disabled_at refuses any key added since, too.
    if (!found || found.revokedAt || (found.expiresAt && found.expiresAt <= now) || found.tenant.disabledAt) {
      throw new UnauthenticatedError("the API key is not valid (unknown, revoked or expired)");
    }
    if (!found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() >= TOUCH_EVERY_MS) {
      // Bookkeeping only: a failure here must not fail the request.
      this.deps.keys.touch(found.id, now).catch((err: unknown) => this.deps.log.warn({ err, key: found.prefix }, "Could not record the key's last use"));
    }
    return { tenantId: found.tenant.id, tenantName: found.tenant.name, namespace: found.tenant.namespace, keyId: found.id, keyName: found.name, scopes: found.scopes, limits: found.tenant.limits };
  }

  /**
   * A key that cannot be checked (Postgres down or restarting) is neither refused nor a fault of
   * ours: 503, retry. Whatever Prisma raises then (refused, terminated, timed out) ends up here.
   */
  private async lookUp(find: () => Promise<KeyRecord | undefined>): Promise<KeyRecord | undefined> {
    try {
      return await find();
    } catch (err) {
      this.deps.log.warn({ err }, "Could not look up an API key");
      throw new DependencyUnavailableError("postgres", { cause: err });
    }
  }
}

/** MissingScopeError unless the principal holds `scope` (or `admin`). */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!hasScope(principal, scope)) throw new MissingScopeError(scope);
}
