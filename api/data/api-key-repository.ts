import { randomUUID } from "node:crypto";
import type { ApiKeyRepository, KeyRecord } from "../domain/ports.js";
import { isScope, type Scope } from "../domain/principal.js";
import type { ApiKey, Tenant } from "./generated/prisma/client.js";
import type { PrismaClient } from "./prisma.js";
import { toTenantRecord } from "./tenant-repository.js";

/** The `api_keys` table: keys are found by the unique index on their SHA-256. */
export class PrismaApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async findByHash(hash: string): Promise<KeyRecord | undefined> {
    const row = await this.prisma.apiKey.findUnique({ where: { hash }, include: { tenant: true } });
    return row ? toRecord(row) : undefined;
  }

  async create(k: { tenantId: string; name: string; prefix: string; hash: string; scopes: Scope[]; expiresAt?: Date }): Promise<KeyRecord> {
    return toRecord(await this.prisma.apiKey.create({ data: { id: randomUUID(), ...k }, include: { tenant: true } }));
  }

  async ensure(k: { tenantId: string; name: string; prefix: string; hash: string; scopes: Scope[] }): Promise<void> {
    await this.prisma.apiKey.upsert({
      where: { hash: k.hash },
      create: { id: randomUUID(), ...k },
      update: { tenantId: k.tenantId, scopes: k.scopes, revokedAt: null, expiresAt: null },
    });
  }

  async list(tenantId?: string): Promise<KeyRecord[]> {
    const rows = await this.prisma.apiKey.findMany({ where: tenantId ? { tenantId } : {}, include: { tenant: true }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    return rows.map(toRecord);
  }

  async revoke(id: string, tenantId: string | undefined, at: Date): Promise<KeyRecord | undefined> {
    // A key revoked already keeps its first revocation time.
    await this.prisma.apiKey.updateMany({ where: { id, revokedAt: null, ...(tenantId ? { tenantId } : {}) }, data: { revokedAt: at } });
    const row = await this.prisma.apiKey.findUnique({ where: { id }, include: { tenant: true } });
    return row && (!tenantId || row.tenantId === tenantId) ? toRecord(row) : undefined;
  }

  async get(id: string, tenantId: string | undefined): Promise<KeyRecord | undefined> {
    const row = await this.prisma.apiKey.findUnique({ where: { id }, include: { tenant: true } });
    return row && (!tenantId || row.tenantId === tenantId) ? toRecord(row) : undefined;
  }

  async rotate(id: string, tenantId: string | undefined, next: { prefix: string; hash: string }, at: Date): Promise<KeyRecord | undefined> {
    return this.prisma.$transaction(async (tx) => {
      // The conditional revoke picks the winner when two rotations of one key race.
      const revoked = await tx.apiKey.updateMany({ where: { id, revokedAt: null, ...(tenantId ? { tenantId } : {}) }, data: { revokedAt: at } });
      if (revoked.count === 0) return undefined;
      const old = await tx.apiKey.findUniqueOrThrow({ where: { id } });
      const row = await tx.apiKey.create({
        data: { id: randomUUID(), tenantId: old.tenantId, name: old.name, prefix: next.prefix, hash: next.hash, scopes: old.scopes, expiresAt: old.expiresAt },
        include: { tenant: true },
      });
      return toRecord(row);
    });
  }

  async touch(id: string, at: Date): Promise<void> {
    // Conditional, so replicas serving one key write at most about once a minute between them.
    await this.prisma.$executeRaw`
      UPDATE api_keys SET last_used_at = ${at}::timestamptz
      WHERE id = ${id}::uuid AND (last_used_at IS NULL OR last_used_at < ${at}::timestamptz - interval '1 minute')`;
  }
}

function toRecord(row: ApiKey & { tenant: Tenant }): KeyRecord {
  return {
    id: row.id, name: row.name, prefix: row.prefix, scopes: row.scopes.filter(isScope),
    createdAt: row.createdAt, lastUsedAt: row.lastUsedAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt,
    tenant: toTenantRecord(row.tenant),
  };
}
