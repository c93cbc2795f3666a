import { readFile, writeFile } from "node:fs/promises";
import { PrismaApiKeyRepository } from "../api/data/api-key-repository.js";
import { createPrisma } from "../api/data/prisma.js";
import { PrismaTenantRepository } from "../api/data/tenant-repository.js";
import { PLATFORM_TENANT, SCOPES } from "../api/domain/principal.js";
import { apiKeyPrefix, generateApiKey, hashApiKey, isWellFormedApiKey } from "../common/auth/api-key.js";

/**
 * The development key of `npm run dev`: a key of the tenant of namespace `default` (the platform
 * tenant, since `default` is the dev platform namespace), kept in `file` so a restart reuses it.
 * It holds every scope, `admin` included, so the web console's admin pages work on this machine.
 * A kept key that is gone from the database, revoked, expired or short of a scope (one made
 * before a scope was added here) is replaced by a new one.
 */
export async function ensureDevKey(databaseUrl: string, namespace: string, file: string): Promise<{ key: string; created: boolean }> {
  const prisma = createPrisma(databaseUrl);
  try {
    const keys = new PrismaApiKeyRepository(prisma);
    const tenant = await new PrismaTenantRepository(prisma).ensure({ name: PLATFORM_TENANT, namespace });
    const kept = await readFile(file, "utf8").then((t) => t.trim(), () => undefined);
    if (kept && isWellFormedApiKey(kept)) {
      const found = await keys.findByHash(hashApiKey(kept));
      const valid = found && !found.revokedAt && (!found.expiresAt || found.expiresAt > new Date());
      if (valid && SCOPES.every((s) => found.scopes.includes(s))) return { key: kept, created: false };
      if (valid) await keys.revoke(found.id, tenant.id, new Date());
    }
    const key = generateApiKey("test");
    await keys.create({ tenantId: tenant.id, name: "development (npm run dev)", prefix: apiKeyPrefix(key), hash: hashApiKey(key), scopes: [...SCOPES] });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return { key, created: true };
  } finally {
    await prisma.$disconnect();
  }
}
