import express, { Router } from "express";
import { z } from "zod";
import type { Authenticate } from "../../domain/authenticate.js";
import { InvalidRequestError } from "../../domain/errors.js";
import type { ManageKeys } from "../../domain/manage-keys.js";
import type { ManageTenants } from "../../domain/manage-tenants.js";
import type { KeyRecord, TenantRecord } from "../../domain/ports.js";
import { SCOPES } from "../../domain/principal.js";
import { principalOf, requireKey } from "../auth.js";
import type { KeyView, TenantView } from "../schemas.js";

/** A namespace's name, and so a tenant's: a DNS label. */
const dnsLabel = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (lower-case letters, digits and '-')");

export const newTenant = z.strictObject({ name: dnsLabel, namespace: dnsLabel.optional() });
/** PATCH /v1/tenants/:name: each given limit is set, null takes the configured default again, an absent one stays. */
export const tenantLimitsPatch = z.strictObject({
  limits: z.strictObject({
    rate_limit_per_minute: z.int().min(1).max(1_000_000).nullable().optional().describe("requests a minute, per API key"),
    max_active_jobs: z.int().min(1).max(100_000).nullable().optional().describe("jobs pending, queued or running at once"),
    max_upload_bytes_per_day: z.int().min(1).max(2 ** 50).nullable().optional().describe("bytes uploaded per UTC day"),
    output_retention_days: z.int().min(1).max(3650).nullable().optional().describe("days a finished job's output and upload are kept (OUTPUT_RETENTION_DAYS when null)"),
  }),
});
export const newKey = z.strictObject({
  name: z.string().min(1).max(100),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  tenant: dnsLabel.optional(),
  expires_at: z.iso.datetime({ offset: true }).optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new InvalidRequestError("the request body is not valid", parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message })));
}

/**
 * Tenants (`admin`) and their API keys (`admin` for any tenant's, `keys:admin` for its own
 * tenant's). A key is shown once, in the answer that creates it.
 */
export function tenantRoutes(deps: { tenants: ManageTenants; keys: ManageKeys; auth: Authenticate }): Router {
  const router = Router();
  const admin = requireKey(deps.auth, "admin");
  const keysAdmin = requireKey(deps.auth, "keys:admin");
  const json = express.json({ limit: "16kb" });

  router.post("/v1/tenants", admin, json, async (req, res) => {
    const tenant = await deps.tenants.create(parse(newTenant, req.body));
    res.status(201).json(tenantView(tenant));
  });
  router.get("/v1/tenants", admin, async (_req, res) => {
    res.json({ items: (await deps.tenants.list()).map(tenantView) });
  });
  router.delete("/v1/tenants/:name", admin, async (req, res) => {
    res.json(tenantView(await deps.tenants.disable(String(req.params.name))));
  });
  router.patch("/v1/tenants/:name", admin, json, async (req, res) => {
    const { limits } = parse(tenantLimitsPatch, req.body);
    const tenant = await deps.tenants.setLimits(String(req.params.name), {
      rateLimitPerMinute: limits.rate_limit_per_minute, maxActiveJobs: limits.max_active_jobs, maxUploadBytesPerDay: limits.max_upload_bytes_per_day,
      outputRetentionDays: limits.output_retention_days,
    });
    res.json(tenantView(tenant));
  });

  router.post("/v1/keys", keysAdmin, json, async (req, res) => {
    const body = parse(newKey, req.body);
    const { record, key } = await deps.keys.create(principalOf(res), {
      name: body.name, scopes: [...new Set(body.scopes)], tenant: body.tenant, expiresAt: body.expires_at === undefined ? undefined : new Date(body.expires_at),
    });
    res.status(201).json({ ...keyView(record), key });
  });
  router.get("/v1/keys", keysAdmin, async (_req, res) => {
    res.json({ items: (await deps.keys.list(principalOf(res))).map(keyView) });
  });
  router.delete("/v1/keys/:id", keysAdmin, async (req, res) => {
    res.json(keyView(await deps.keys.revoke(principalOf(res), String(req.params.id))));
  });
  router.post("/v1/keys/:id/rotate", keysAdmin, async (req, res) => {
    const { record, key } = await deps.keys.rotate(principalOf(res), String(req.params.id));
    res.status(201).json({ ...keyView(record), key });
  });
  return router;
}

function tenantView(t: TenantRecord): TenantView {
  const limits = t.limits;
  return {
    id: t.id, name: t.name, namespace: t.namespace, created_at: t.createdAt.toISOString(), disabled_at: t.disabledAt?.toISOString() ?? null,
    limits: { rate_limit_per_minute: limits?.rateLimitPerMinute ?? null, max_active_jobs: limits?.maxActiveJobs ?? null, max_upload_bytes_per_day: limits?.maxUploadBytesPerDay ?? null,
      output_retention_days: limits?.outputRetentionDays ?? null },
  };
}

/** Never the key: its first characters tell it apart. */
function keyView(k: KeyRecord): KeyView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    id: k.id, name: k.name, prefix: k.prefix, tenant: k.tenant.name, scopes: k.scopes,
    created_at: iso(k.createdAt), last_used_at: iso(k.lastUsedAt), expires_at: iso(k.expiresAt), revoked_at: iso(k.revokedAt),
  };
}
