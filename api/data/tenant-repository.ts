import { randomUUID } from "node:crypto";
import { TenantExistsError } from "../domain/errors.js";
import type { LimitOverrides } from "../domain/limits.js";
import type { TenantRecord, TenantRepository } from "../domain/ports.js";
import type { Tenant } from "./generated/prisma/client.js";
import type { PrismaClient } from "./prisma.js";

/** The `tenants` table: name and namespace are each unique. */
export class PrismaTenantRepository implements TenantRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(t: { name: string; namespace: string }): Promise<TenantRecord> {
    try {
      return toTenantRecord(await this.prisma.tenant.create({ data: { id: randomUUID(), name: t.name, namespace: t.namespace } }));
    } catch (err) {
      if ((err as { code?: unknown }).code === "P2002") throw new TenantExistsError(`a tenant with the name ${t.name} or the namespace ${t.namespace} exists`);
      throw err;
    }
  }

  async ensure(t: { name: string; namespace: string }): Promise<TenantRecord> {
    return toTenantRecord(await this.prisma.tenant.upsert({ where: { name: t.name }, create: { id: randomUUID(), ...t }, update: {} }));
  }

  async byName(name: string): Promise<TenantRecord | undefined> {
    const row = await this.prisma.tenant.findUnique({ where: { name } });
    return row ? toTenantRecord(row) : undefined;
  }

  async byNamespace(namespace: string): Promise<TenantRecord | undefined> {
    const row = await this.prisma.tenant.findUnique({ where: { namespace } });
    return row ? toTenantRecord(row) : undefined;
  }

  async list(): Promise<TenantRecord[]> {
    return (await this.prisma.tenant.findMany({ orderBy: { name: "asc" } })).map(toTenantRecord);
  }

  async disable(name: string, at: Date): Promise<TenantRecord | undefined> {
    return this.prisma.$transaction(async (tx) => {
      const tenant = await tx.tenant.findUnique({ where: { name } });
      if (!tenant) return undefined;
      // A tenant disabled already keeps its first time; a key added since is revoked all the same.
      const row = tenant.disabledAt ? tenant : await tx.tenant.update({ where: { id: tenant.id }, data: { disabledAt: at } });
      await tx.apiKey.updateMany({ where: { tenantId: tenant.id, revokedAt: null }, data: { revokedAt: at } });
      return toTenantRecord(row);
    });
  }

  async setLimits(name: string, limits: Partial<LimitOverrides>): Promise<TenantRecord | undefined> {
    const { rateLimitPerMinute, maxActiveJobs, maxUploadBytesPerDay, outputRetentionDays } = limits;
    const data = {
      ...(rateLimitPerMinute === undefined ? {} : { rateLimitPerMinute }),
      ...(maxActiveJobs === undefined ? {} : { maxActiveJobs }),
      ...(maxUploadBytesPerDay === undefined ? {} : { maxUploadBytesPerDay: maxUploadBytesPerDay === null ? null : BigInt(maxUploadBytesPerDay) }),
      ...(outputRetentionDays === undefined ? {} : { outputRetentionDays }),
    };
    const updated = await this.prisma.tenant.updateMany({ where: { name }, data });
    return updated.count === 0 ? undefined : this.byName(name);
  }
}

/** A `tenants` row as the domain sees it, with its limit overrides and disabled time. */
export function toTenantRecord(row: Tenant): TenantRecord {
  return {
    id: row.id, name: row.name, namespace: row.namespace, createdAt: row.createdAt, disabledAt: row.disabledAt,
    limits: {
      rateLimitPerMinute: row.rateLimitPerMinute, maxActiveJobs: row.maxActiveJobs,
      maxUploadBytesPerDay: row.maxUploadBytesPerDay === null ? null : Number(row.maxUploadBytesPerDay),
      outputRetentionDays: row.outputRetentionDays,
    },
  };
}
