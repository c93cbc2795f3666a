import type { IdempotencyEntry, IdempotencyRepository } from "../domain/ports.js";
import type { PrismaClient } from "./prisma.js";

/** The `idempotency_keys` table: the primary key (namespace, key) is what makes a claim exclusive. */
export class PrismaIdempotencyRepository implements IdempotencyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async claim(namespace: string, key: string, requestHash: string, ttlMs: number, pendingMs: number): Promise<{ claimed: true } | { claimed: false; entry?: IdempotencyEntry }> {
    // Insert first: of concurrent requests with one key exactly one inserts (or takes over an
    // expired entry); the others find the row and wait for its job.
    const won = await this.prisma.$queryRaw<{ key: string }[]>`
      INSERT INTO idempotency_keys (namespace, key, request_hash, created_at)
      VALUES (${namespace}, ${key}, ${requestHash}, now())
      ON CONFLICT (namespace, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, job_uid = NULL, created_at = EXCLUDED.created_at
      WHERE idempotency_keys.created_at < now() - ${ttlMs}::double precision * interval '1 millisecond'
        OR (idempotency_keys.job_uid IS NULL AND idempotency_keys.created_at < now() - ${pendingMs}::double precision * interval '1 millisecond')
      RETURNING key`;
    if (won.length > 0) return { claimed: true };
    const row = await this.prisma.idempotencyKey.findUnique({ where: { namespace_key: { namespace, key } } });
    return { claimed: false, entry: row ? { requestHash: row.requestHash, jobUid: row.jobUid } : undefined };
  }

  async complete(namespace: string, key: string, jobUid: string): Promise<void> {
    await this.prisma.idempotencyKey.update({ where: { namespace_key: { namespace, key } }, data: { jobUid } });
  }

  async release(namespace: string, key: string, requestHash: string): Promise<void> {
    await this.prisma.idempotencyKey.deleteMany({ where: { namespace, key, requestHash, jobUid: null } });
  }

  async prune(olderThan: Date): Promise<number> {
    return (await this.prisma.idempotencyKey.deleteMany({ where: { createdAt: { lt: olderThan } } })).count;
  }
}
