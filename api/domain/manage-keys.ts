import { apiKeyPrefix, generateApiKey, hashApiKey, type KeyKind } from "../../common/auth/api-key.js";
import { InvalidRequestError, KeyNotActiveError, MissingScopeError, NotFoundError } from "./errors.js";
import type { ApiKeyRepository, KeyRecord, TenantRepository } from "./ports.js";
import { hasScope, type Principal, type Scope } from "./principal.js";

export interface NewKey {
  name: string;
  scopes: Scope[];
  /** A tenant's name; only `admin` may name another tenant than the caller's. */
  tenant?: string;
  expiresAt?: Date;
}

/**
 * API keys of tenants: `admin` manages every tenant's, `keys:admin` its own tenant's. A key
 * never grants more than its creator holds, so `keys:admin` cannot mint `admin`.
 */
export class ManageKeys {
  constructor(private readonly deps: { keys: ApiKeyRepository; tenants: TenantRepository; kind?: KeyKind; now?: () => Date }) {}

  /** The stored key and the key itself, which is never shown again. */
  async create(principal: Principal, req: NewKey): Promise<{ record: KeyRecord; key: string }> {
    const tenantId = await this.tenantOf(principal, req.tenant);
    for (const scope of req.scopes) if (!hasScope(principal, scope)) throw new MissingScopeError(scope);
    if (req.expiresAt && req.expiresAt <= this.now()) throw new InvalidRequestError("expires_at is in the past");
    const key = generateApiKey(this.deps.kind);
    const record = await this.deps.keys.create({ tenantId, name: req.name, prefix: apiKeyPrefix(key), hash: hashApiKey(key), scopes: req.scopes, expiresAt: req.expiresAt });
    return { record, key };
  }

  list(principal: Principal): Promise<KeyRecord[]> {
    return this.deps.keys.list(hasScope(principal, "admin") ? undefined : principal.tenantId);
  }

  /** NotFoundError for an unknown key or, without `admin`, another tenant's. */
  async revoke(principal: Principal, id: string): Promise<KeyRecord> {
    const tenantId = hasScope(principal, "admin") ? undefined : principal.tenantId;
    const revoked = /^[0-9a-f-]{36}$/i.test(id) ? await this.deps.keys.revoke(id.toLowerCase(), tenantId, this.now()) : undefined;
    if (!revoked) throw new NotFoundError(`there is no API key ${id}`);
    return revoked;
  }

  /**
   * A new key in place of key `id`: same tenant, name, scopes and expiry; the old one is revoked
   * in the same transaction. The new key is shown this once. NotFoundError as for `revoke`;
   * KeyNotActiveError for a key revoked (or rotated) already, or expired.
   */
  async rotate(principal: Principal, id: string): Promise<{ record: KeyRecord; key: string }> {
    const tenantId = hasScope(principal, "admin") ? undefined : principal.tenantId;
    const old = /^[0-9a-f-]{36}$/i.test(id) ? await this.deps.keys.get(id.toLowerCase(), tenantId) : undefined;
    if (!old) throw new NotFoundError(`there is no API key ${id}`);
    // As for create: the new key grants nothing its rotator lacks.
    for (const scope of old.scopes) if (!hasScope(principal, scope)) throw new MissingScopeError(scope);
    const now = this.now();
    if (old.expiresAt && old.expiresAt <= now) throw new KeyNotActiveError(`API key ${old.id} expired at ${old.expiresAt.toISOString()}; create a new one`);
    const key = generateApiKey(this.deps.kind);
    const record = old.revokedAt ? undefined : await this.deps.keys.rotate(old.id, tenantId, { prefix: apiKeyPrefix(key), hash: hashApiKey(key) }, now);
    if (!record) throw new KeyNotActiveError(`API key ${old.id} is revoked (or was rotated already)`);
    return { record, key };
  }

  private async tenantOf(principal: Principal, name: string | undefined): Promise<string> {
    if (name === undefined || name === principal.tenantName) return principal.tenantId;
    if (!hasScope(principal, "admin")) throw new MissingScopeError("admin");
    const tenant = await this.deps.tenants.byName(name);
    if (!tenant) throw new NotFoundError(`there is no tenant ${name}`);
    return tenant.id;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
