import type { LimitOverrides } from "./limits.js";

/**
 * Who is asking: the tenant an API key belongs to and what the key may do. The tenant's
 * namespace is where its ImageJobs, uploads and Idempotency-Keys live; no use case reads a
 * process-wide namespace.
 */
export interface Principal {
  tenantId: string;
  tenantName: string;
  namespace: string;
  keyId: string;
  /** The key's name as its creator gave it; absent where the principal was made without one (tests). */
  keyName?: string;
  scopes: readonly Scope[];
  /** The tenant's overrides of the configured limits (ADR 0009); none: the defaults. */
  limits?: Partial<LimitOverrides>;
}

/**
 * Every scope a key may hold: the one list. `admin` implies all the others. `models:write` adds
 * ImageModels to the key's own tenant's namespace (the platform tenant's: shared models).
 */
export const SCOPES = ["jobs:write", "jobs:read", "models:read", "models:write", "keys:admin", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function hasScope(principal: Pick<Principal, "scopes">, scope: Scope): boolean {
  return principal.scopes.includes("admin") || principal.scopes.includes(scope);
}

/** The tenant of the platform namespace (PIXELMILL_NAMESPACE): it owns the bootstrap admin key. */
export const PLATFORM_TENANT = "platform";
