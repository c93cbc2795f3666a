import type { DueJob, RetentionRows } from "../domain/retention.js";
import type { PrismaClient } from "./prisma.js";

/** The `jobs` rows the retention sweeper claims and marks (api/domain/retention.ts). */
export class PrismaRetentionRepository implements RetentionRows {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Claims up to `limit` jobs finished more than their tenant's retention (`defaultDays` without
   * one of its own) before now, whose files are not yet deleted, and calls `remove` with them in
   * one transaction: the rows are locked (FOR UPDATE SKIP LOCKED), so another sweeper at the same
   * time takes other rows, never these. The uids `remove` returns get output_expired_at = now();
   * the others stay for the next sweep. Returns those uids.
   */
  async sweep(defaultDays: number, limit: number, remove: (jobs: DueJob[]) => Promise<string[]>): Promise<string[]> {
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ uid: string; namespace: string; output_uri: string | null; input_uri: string | null; input_shared: boolean; name: string; is_batch: boolean }[]>`
        SELECT j.uid::text AS uid, j.namespace, j.name, j.output->>'uri' AS output_uri, j.input_uri, (j.batch IS NOT NULL) AS is_batch,
          (j.input_uri IS NOT NULL AND EXISTS (
            SELECT 1 FROM jobs o WHERE o.input_uri = j.input_uri AND o.uid <> j.uid AND o.output_expired_at IS NULL)) AS input_shared
        FROM jobs j LEFT JOIN tenants t ON t.namespace = j.namespace
        WHERE j.output_expired_at IS NULL AND j.finished_at IS NOT NULL
          AND (j.output IS NOT NULL OR j.input_uri LIKE 'upload:%' OR j.batch IS NOT NULL)
          AND j.finished_at < now() - make_interval(days => COALESCE(t.output_retention_days, ${defaultDays}::int))
        ORDER BY j.finished_at
        LIMIT ${limit}
        FOR UPDATE OF j SKIP LOCKED`;
      if (rows.length === 0) return [];
      const done = await remove(rows.map((r) => ({ uid: r.uid, namespace: r.namespace, outputUri: r.output_uri, inputUri: r.input_uri, inputShared: r.input_shared, ...(r.is_batch ? { batch: { name: r.name } } : {}) })));
      if (done.length === 0) return [];
      const marked = await tx.$queryRaw<{ uid: string }[]>`
        UPDATE jobs SET output_expired_at = now(), updated_at = now()
        WHERE uid = ANY(${done}::uuid[]) AND output_expired_at IS NULL
        RETURNING uid::text AS uid`;
      return marked.map((m) => m.uid);
    }, { timeout: 120_000 });
  }

  /** The tenant's retention in days, or undefined when it has none of its own (or there is no tenant of the namespace). */
  async daysOf(namespace: string): Promise<number | undefined> {
    const row = await this.prisma.tenant.findUnique({ where: { namespace }, select: { outputRetentionDays: true } });
    return row?.outputRetentionDays ?? undefined;
  }
}
