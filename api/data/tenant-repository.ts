import { randomUUID } from "node:crypto";
import { TenantExistsError } from "../domain/errors.js";
import type { TenantRecord, TenantRepository } from "../domain/ports.js";
import type { PrismaClient } from "./prisma.js";

/** The `tenants` table: name and namespace are each unique. */
export class PrismaTenantRepository implements TenantRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(t: { name: string; namespace: string }): Promise<TenantRecord> {
    try {
      return await this.prisma.tenant.create({ data: { id: randomUUID(), name: t.name, namespace: t.namespace }, select: SELECT });
    } catch (err) {
      if ((err as { code?: unknown }).code === "P2002") throw new TenantExistsError(`a tenant with the name ${t.name} or the namespace ${t.namespace} exists`);
      throw err;
    }
  }

  async ensure(t: { name: string; namespace: string }): Promise<TenantRecord> {
    return this.prisma.tenant.upsert({ where: { name: t.name }, create: { id: randomUUID(), ...t }, update: {}, select: SELECT });
  }

  async byName(name: string): Promise<TenantRecord | undefined> {
    return (await this.prisma.tenant.findUnique({ where: { name }, select: SELECT })) ?? undefined;
  }

  async byNamespace(namespace: string): Promise<TenantRecord | undefined> {
    return (await this.prisma.tenant.findUnique({ where: { namespace }, select: SELECT })) ?? undefined;
  }

  list(): Promise<TenantRecord[]> {
    return this.prisma.tenant.findMany({ orderBy: { name: "asc" }, select: SELECT });
  }
}

export const SELECT = { id: true, name: true, namespace: true, createdAt: true } as const;
