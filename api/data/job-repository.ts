import type { ImageJobOutput } from "../../common/crd-types.js";
import { FINISHED_PHASES, type ImageJobPhase } from "../../common/job/phases.js";
import type { WebhookEvent } from "../../common/job/webhook-events.js";
import type { Job } from "./generated/prisma/client.js";
import { UnstorableJobError } from "../domain/errors.js";
import type { BatchCounts, JobRecord } from "../domain/job-record.js";
import type { JobListQuery, JobRepository, UpsertOutcome, UsageRow } from "../domain/ports.js";
import type { PrismaClient } from "./prisma.js";

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** The `jobs` table through Prisma; every method returns plain JobRecords. */
export class PrismaJobRepository implements JobRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * One statement, so two writers (the API after create, and the mirror) cannot interleave: the
   * row moves only forward in resourceVersion, and a stale state writes nothing. A job canceled
   * through the API stays canceled, whatever state of it the watch delivers late.
   */
  async upsert(r: JobRecord): Promise<boolean> {
    return (await this.upsertMany([r])).get(r.uid)?.wrote ?? false;
  }

  async upsertMany(records: readonly JobRecord[]): Promise<Map<string, UpsertOutcome>> {
    // One row per job (a statement may change a row only once): its newest state, as upserting each in turn would leave it.
    const newest = new Map<string, JobRecord>();
    for (const r of records) {
      const had = newest.get(r.uid);
      if (!had || had.resourceVersion < r.resourceVersion) newest.set(r.uid, r);
    }
    // In UID order, so two writers of overlapping batches lock rows in the same order.
    const rows = [...newest.values()].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    if (rows.length === 0) return new Map();
    const col = <T>(pick: (r: JobRecord) => T) => rows.map(pick);
    const iso = (d: Date | null) => (d === null ? null : d.toISOString());
    const num = (n: number | null) => (n === null ? null : String(n));
    try {
      // upsert's statement for many rows: the columns travel as arrays, one parameter each.
      const written = await this.prisma.$queryRaw<{ uid: string; deleted_at: Date | null }[]>`
        INSERT INTO jobs (uid, namespace, name, model, input_uri, input_filename, params, phase, attempts, created_at,
          queued_at, started_at, finished_at, output, error, run_seconds, gpu_seconds, resource_version, deleted_at, webhook_url, webhook_events, batch_total, batch, updated_at)
        SELECT uid, namespace, name, model, input_uri, input_filename, params::jsonb, phase, attempts, created_at,
          queued_at, started_at, finished_at, output::jsonb, error::jsonb, run_seconds, gpu_seconds, resource_version, deleted_at,
          webhook_url, COALESCE(string_to_array(webhook_events, ','), '{}'), batch_total, batch::jsonb, now()
        FROM unnest(${col((r) => r.uid)}::uuid[], ${col((r) => r.namespace)}::text[], ${col((r) => r.name)}::text[], ${col((r) => r.model)}::text[],
          ${col((r) => r.inputUri)}::text[], ${col((r) => r.inputFilename ?? null)}::text[], ${col((r) => json(r.params))}::text[], ${col((r) => r.phase)}::text[], ${col((r) => String(r.attempts))}::int[],
          ${col((r) => iso(r.createdAt))}::timestamptz[], ${col((r) => iso(r.queuedAt))}::timestamptz[], ${col((r) => iso(r.startedAt))}::timestamptz[],
          ${col((r) => iso(r.finishedAt))}::timestamptz[], ${col((r) => json(r.output))}::text[], ${col((r) => json(r.error))}::text[],
          ${col((r) => num(r.runSeconds))}::double precision[], ${col((r) => num(r.gpuSeconds))}::double precision[],
          ${col((r) => String(r.resourceVersion))}::bigint[], ${col((r) => iso(r.deletedAt))}::timestamptz[],
          ${col((r) => r.webhook?.url ?? null)}::text[], ${col((r) => r.webhook?.events.join(",") ?? null)}::text[],
          ${col((r) => (r.batch ? num(r.batch.total) : null))}::int[], ${col((r) => json(r.batch))}::text[])
          AS r(uid, namespace, name, model, input_uri, input_filename, params, phase, attempts, created_at, queued_at, started_at, finished_at, output, error,
            run_seconds, gpu_seconds, resource_version, deleted_at, webhook_url, webhook_events, batch_total, batch)
        ON CONFLICT (uid) DO UPDATE SET
          params = EXCLUDED.params, phase = EXCLUDED.phase, attempts = EXCLUDED.attempts,
          queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
          output = EXCLUDED.output, error = EXCLUDED.error, run_seconds = EXCLUDED.run_seconds, gpu_seconds = EXCLUDED.gpu_seconds, resource_version = EXCLUDED.resource_version,
          batch_total = EXCLUDED.batch_total, batch = EXCLUDED.batch,
          deleted_at = COALESCE(jobs.deleted_at, EXCLUDED.deleted_at), updated_at = now()
        WHERE jobs.resource_version < EXCLUDED.resource_version AND jobs.phase <> 'Canceled'
        RETURNING uid, deleted_at`;
      const wrote = new Map(written.map((w) => [w.uid, w.deleted_at]));
      return new Map(rows.map((r) => [r.uid, wrote.has(r.uid) ? { wrote: true, deletedAt: wrote.get(r.uid) ?? null } : { wrote: false }]));
    } catch (err) {
      const state = sqlState(err);
      if (state?.startsWith("22") || state?.startsWith("23")) {
        // Class 22 (data exception, e.g. a NUL in params) and 23 (constraints) fail the same way every time.
        const what = rows.length === 1 ? `job ${rows[0]!.uid}` : `a batch of ${rows.length} jobs`;
        throw new UnstorableJobError(rows.map((r) => r.uid).join(","), `Postgres refused ${what} (SQLSTATE ${state})`, { cause: err });
      }
      throw err;
    }
  }

  async markDeleted(uid: string, at: Date): Promise<JobRecord | undefined> {
    await this.prisma.job.updateMany({ where: { uid, deletedAt: null }, data: { deletedAt: at } });
    const row = await this.prisma.job.findUnique({ where: { uid } });
    return row ? toRecord(row) : undefined;
  }

  async markCanceled(uid: string, at: Date, error: { reason: string; message: string }): Promise<JobRecord | undefined> {
    // One statement: a job the mirror saw finish meanwhile keeps its ending.
    await this.prisma.$executeRaw`
      UPDATE jobs SET phase = 'Canceled', error = ${json(error)}::jsonb, finished_at = COALESCE(finished_at, ${at}::timestamptz),
        deleted_at = COALESCE(deleted_at, ${at}::timestamptz), updated_at = now()
      WHERE uid = ${uid}::uuid AND phase <> ALL(${[...FINISHED_PHASES]}::text[])`;
    const row = await this.prisma.job.findUnique({ where: { uid } });
    return row ? toRecord(row) : undefined;
  }

  async settleMissing(present: readonly string[], list: { resourceVersion: bigint; takenAt: Date }, unseenEnd: { reason: string; message: string }): Promise<JobRecord[]> {
    const at = list.takenAt;
    const old = new Date(at.getTime() - CLOCK_MARGIN_MS);
    const finished = [...FINISHED_PHASES];
    // One array parameter rather than one per UID: the cluster may hold more jobs than Postgres takes parameters.
    // SET reads the row as it was, so each CASE sees the old phase.
    const marked = await this.prisma.$queryRaw<{ uid: string }[]>`
      UPDATE jobs SET deleted_at = ${at}::timestamptz, updated_at = now(),
        phase = CASE WHEN phase = ANY(${finished}::text[]) THEN phase ELSE 'Canceled' END,
        error = CASE WHEN phase = ANY(${finished}::text[]) THEN error ELSE ${json(unseenEnd)}::jsonb END,
        finished_at = CASE WHEN phase = ANY(${finished}::text[]) THEN finished_at ELSE COALESCE(finished_at, ${at}::timestamptz) END
      WHERE deleted_at IS NULL
        AND (resource_version <= ${list.resourceVersion}::bigint OR created_at < ${old}::timestamptz)
        AND NOT (uid = ANY(${[...present]}::uuid[]))
      RETURNING uid`;
    if (marked.length === 0) return [];
    const rows = await this.prisma.job.findMany({ where: { uid: { in: marked.map((m) => m.uid) } } });
    return rows.map(toRecord);
  }

  async get(namespace: string, uid: string): Promise<JobRecord | undefined> {
    const row = await this.prisma.job.findUnique({ where: { uid } });
    return row && row.namespace === namespace ? toRecord(row) : undefined;
  }

  async list(q: JobListQuery): Promise<JobRecord[]> {
    const after = q.after
      ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, uid: { lt: q.after.uid } }] }
      : {};
    const rows = await this.prisma.job.findMany({
      where: {
        namespace: q.namespace, phase: q.phase, model: q.model, ...after,
        AND: [q.createdFrom ? { createdAt: { gte: q.createdFrom } } : {}, q.createdBefore ? { createdAt: { lt: q.createdBefore } } : {}],
      },
      orderBy: [{ createdAt: "desc" }, { uid: "desc" }],
      take: q.limit,
    });
    return rows.map(toRecord);
  }

  /**
   * Jobs of the namespace (of `uids` only, when given) whose state is past resourceVersion
   * `after`, oldest change first, at most `limit`: what a WebSocket resume sends (api/http/ws/).
   */
  async changedSince(q: { namespace: string; after: bigint; uids?: readonly string[]; limit: number }): Promise<JobRecord[]> {
    const rows = await this.prisma.job.findMany({
      where: { namespace: q.namespace, resourceVersion: { gt: q.after }, ...(q.uids ? { uid: { in: [...q.uids] } } : {}) },
      orderBy: [{ resourceVersion: "asc" }, { uid: "asc" }],
      take: q.limit,
    });
    return rows.map(toRecord);
  }

  /** A batch counts its items not yet finished (by its last status.batch counts); a prefix batch not yet listed counts 1. */
  async countActive(namespace: string): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ active: number }[]>`
      SELECT COALESCE(sum(CASE WHEN batch_total IS NULL THEN 1 ELSE GREATEST(0, batch_total
        - COALESCE((batch->>'succeeded')::int, 0) - COALESCE((batch->>'failed')::int, 0) - COALESCE((batch->>'canceled')::int, 0)) END), 0)::int AS active
      FROM jobs
      WHERE namespace = ${namespace} AND deleted_at IS NULL AND phase <> ALL(${[...FINISHED_PHASES]}::text[])`;
    return row?.active ?? 0;
  }

  async usage(q: { from: Date; until: Date; tenant?: { name: string; namespace: string } }): Promise<UsageRow[]> {
    // Both read the (namespace, finished_at) index; sums of no usage (older workers) are 0.
    type Row = { tenant: string; day: string; jobs: number; run_seconds: number; gpu_seconds: number };
    const rows = q.tenant
      ? await this.prisma.$queryRaw<Row[]>`
        SELECT ${q.tenant.name}::text AS tenant, to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS jobs,
          COALESCE(sum(run_seconds), 0)::float8 AS run_seconds, COALESCE(sum(gpu_seconds), 0)::float8 AS gpu_seconds
        FROM jobs
        WHERE namespace = ${q.tenant.namespace} AND phase = 'Succeeded'
          AND finished_at >= ${q.from}::timestamptz AND finished_at < ${q.until}::timestamptz
        GROUP BY day ORDER BY day`
      : await this.prisma.$queryRaw<Row[]>`
        SELECT t.name AS tenant, to_char(j.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS jobs,
          COALESCE(sum(j.run_seconds), 0)::float8 AS run_seconds, COALESCE(sum(j.gpu_seconds), 0)::float8 AS gpu_seconds
        FROM jobs j JOIN tenants t ON t.namespace = j.namespace
        WHERE j.phase = 'Succeeded' AND j.finished_at >= ${q.from}::timestamptz AND j.finished_at < ${q.until}::timestamptz
        GROUP BY t.name, day ORDER BY day, t.name`;
    return rows.map((r) => ({ tenant: r.tenant, day: r.day, jobsSucceeded: r.jobs, runSeconds: round(r.run_seconds), gpuSeconds: round(r.gpu_seconds) }));
  }
}

/**
 * How far the apiserver's clock (creationTimestamp) and ours may disagree before a job created
 * just after a list is taken for one created before it.
 */
const CLOCK_MARGIN_MS = 60_000;

/** Sums to the millisecond, as the worker measures. */
const round = (seconds: number) => Math.round(seconds * 1000) / 1000;

/** The SQLSTATE of a Postgres error as Prisma's driver adapter passes it on. */
function sqlState(err: unknown): string | undefined {
  const meta = (err as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta;
  const code = meta?.driverAdapterError?.cause?.originalCode;
  return typeof code === "string" ? code : undefined;
}

function toRecord(row: Job): JobRecord {
  return {
    uid: row.uid,
    namespace: row.namespace,
    name: row.name,
    model: row.model,
    inputUri: row.inputUri,
    ...(row.inputFilename ? { inputFilename: row.inputFilename } : {}),
    params: row.params as Record<string, unknown> | null,
    phase: row.phase as ImageJobPhase,
    attempts: row.attempts,
    createdAt: row.createdAt,
    queuedAt: row.queuedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    output: row.output as ImageJobOutput | null,
    error: row.error as JobRecord["error"],
    runSeconds: row.runSeconds,
    gpuSeconds: row.gpuSeconds,
    resourceVersion: row.resourceVersion,
    deletedAt: row.deletedAt,
    ...(row.outputExpiredAt ? { outputExpiredAt: row.outputExpiredAt } : {}),
    ...(row.batch ? { batch: row.batch as unknown as BatchCounts } : {}),
    ...(row.webhookUrl ? { webhook: { url: row.webhookUrl, events: row.webhookEvents as WebhookEvent[] } } : {}),
  };
}
