import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createHash, randomUUID } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../api/data/generated/prisma/client.js";
import { createTestDatabase, type TestDatabase } from "../test/support/database.js";
import { migrate, MigrationError } from "./migrate.js";

const MIGRATIONS = join(import.meta.dirname, "migrations");
const INIT = "20261124000000_init";
const IDEMPOTENCY = "20261124190000_idempotency_keys";
const TENANTS = "20261201090000_tenant_namespaces_key_expiry";
const TENANT_LIMITS = "20261201110000_tenant_limits";
const JOB_USAGE = "20261201120000_job_usage";
const TENANT_DISABLED = "20261201130000_tenant_disabled";
const JOBS_WITHOUT_INPUT = "20261201180000_jobs_without_input";
const JOBS_NAMESPACE_VERSION = "20261201190000_jobs_namespace_resource_version";
const OUTPUT_RETENTION = "20261201200000_output_retention";
const BATCH_JOBS = "20261201205000_batch_jobs";
const WEBHOOKS = "20261201210000_webhooks";
const JOB_INPUT_FILENAME = "20261201220000_job_input_filename";
const ALL = [INIT, IDEMPOTENCY, TENANTS, TENANT_LIMITS, JOB_USAGE, TENANT_DISABLED, JOBS_WITHOUT_INPUT, JOBS_NAMESPACE_VERSION, OUTPUT_RETENTION, BATCH_JOBS, WEBHOOKS, JOB_INPUT_FILENAME];

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const migrationRows = (url: string) =>
  query<MigrationRow>(url, `SELECT migration_name, checksum, finished_at, logs, applied_steps_count FROM "_prisma_migrations" ORDER BY started_at`);

/** A migrations folder in a temp dir: a copy of the real one plus `extra` migrations. */
async function migrationsWith(extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-migrations-"));
  await cp(MIGRATIONS, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

describe("migrate on an empty database", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("migrate-empty");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("applies every migration and records each the way prisma migrate deploy does", async () => {
    const result = await migrate(db.url, { migrationsDir: MIGRATIONS });

    expect(result).toEqual({ applied: ALL, skipped: [] });
    const tables = await query<{ table_name: string }>(db.url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
    expect(tables.map((t) => t.table_name)).toEqual([
      "_prisma_migrations", "api_keys", "idempotency_keys", "jobs", "tenants", "upload_filenames", "webhook_attempts", "webhook_disabled_endpoints", "webhook_outbox", "webhook_secrets",
    ]);
    const rows = await migrationRows(db.url);
    expect(rows.map((r) => r.migration_name)).toEqual(ALL);
    for (const row of rows) {
      const file = await readFile(join(MIGRATIONS, row.migration_name, "migration.sql"));
      expect(row).toMatchObject({ applied_steps_count: 1, logs: null });
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.checksum).toBe(createHash("sha256").update(file).digest("hex"));
    }
  });

  it("applies nothing on a second run", async () => {
    const result = await migrate(db.url, { migrationsDir: MIGRATIONS });

    expect(result).toEqual({ applied: [], skipped: ALL });
    expect(await migrationRows(db.url)).toHaveLength(ALL.length);
  });

  it("warns, and still applies nothing, when an applied migration file was edited", async () => {
    const dir = await migrationsWith({});
    await writeFile(join(dir, INIT, "migration.sql"), "-- edited\n", { flag: "a" });
    const logged: string[] = [];
    try {
      const result = await migrate(db.url, { migrationsDir: dir, log: (msg) => logged.push(msg) });
      expect(result).toEqual({ applied: [], skipped: ALL });
      expect(logged).toContain("Migration file was modified after it was applied");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("creates tables the generated Prisma client reads and writes field for field", async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    try {
      const tenant = await prisma.tenant.create({ data: { id: randomUUID(), name: "acme", namespace: "team-a" } });
      const apiKey = await prisma.apiKey.create({ data: {
        id: randomUUID(), tenantId: tenant.id, name: "ci", prefix: "pm_ab12", hash: "f".repeat(64),
        scopes: ["jobs:read", "jobs:write"], lastUsedAt: new Date("2026-11-24T10:00:00.123Z"), revokedAt: new Date("2026-11-25T00:00:00.001Z"), expiresAt: new Date("2026-12-25T00:00:00.002Z"),
      } });
      const job = await prisma.job.create({ data: {
        uid: randomUUID(), namespace: "team-a", name: "upscale-1", tenantId: tenant.id, model: "esrgan-x4",
        inputUri: "s3://in/cat.png", inputFilename: "chat noir é.png", params: { scale: 4, tile: { size: 256, overlap: 16 } }, phase: "Succeeded", attempts: 2,
        createdAt: new Date("2026-11-24T10:00:00.001Z"), queuedAt: new Date("2026-11-24T10:00:01.002Z"),
        startedAt: new Date("2026-11-24T10:00:02.003Z"), finishedAt: new Date("2026-11-24T10:00:09.004Z"),
        output: { uri: "s3://out/cat.png", contentType: "image/png", width: 4096, height: 4096, bytes: 123456 },
        error: { reason: "OOMKilled", message: "first attempt ran out of GPU memory" },
        // Past 2^53: proves the column is BIGINT and not a float.
        resourceVersion: 9007199254740993n, deletedAt: new Date("2026-11-25T10:00:00.005Z"),
      } });

      expect(await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.id } })).toEqual(tenant);
      expect(await prisma.apiKey.findUniqueOrThrow({ where: { prefix: "pm_ab12" } })).toEqual(apiKey);
      expect(await prisma.job.findUniqueOrThrow({ where: { uid: job.uid } })).toEqual(job);
      expect(job.resourceVersion).toBe(9007199254740993n);
      const claim = await prisma.idempotencyKey.create({ data: {
        namespace: "team-a", key: "retry-1 !~", requestHash: "a".repeat(64), jobUid: job.uid, createdAt: new Date("2026-11-24T10:00:00.007Z"),
      } });
      expect(await prisma.idempotencyKey.findUniqueOrThrow({ where: { namespace_key: { namespace: "team-a", key: "retry-1 !~" } } })).toEqual(claim);
      // The key is unique per namespace only.
      await expect(prisma.idempotencyKey.create({ data: { namespace: "team-a", key: claim.key, requestHash: "b".repeat(64) } })).rejects.toThrow();
      await prisma.idempotencyKey.create({ data: { namespace: "team-b", key: claim.key, requestHash: "b".repeat(64) } });
      expect(job.updatedAt).toBeInstanceOf(Date);
      const named = await prisma.uploadFilename.create({ data: { key: "uploads/team-a/u.png", namespace: "team-a", filename: "猫.png" } });
      expect(await prisma.uploadFilename.findUniqueOrThrow({ where: { key: named.key } })).toEqual(named);

      // The foreign keys' delete rules: keys go with their tenant, jobs stay as history.
      await prisma.tenant.delete({ where: { id: tenant.id } });
      expect(await prisma.apiKey.count()).toBe(0);
      expect(await prisma.job.findUniqueOrThrow({ where: { uid: job.uid } })).toMatchObject({ tenantId: null });
    } finally {
      await prisma.$disconnect();
    }
  });
});

describe("migrate with a broken migration", () => {
  const BROKEN = "20991231000000_broken"; // after every real migration
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase("migrate-broken");
    dir = await migrationsWith({ [BROKEN]: 'CREATE TABLE "half" ("id" INTEGER);\nCREATE TABEL "oops" ("id" INTEGER);\n' });
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("fails naming the migration, rolls its SQL back and records the failure", async () => {
    const error = await migrate(db.url, { migrationsDir: dir }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(MigrationError);
    expect(error).toMatchObject({ migration: BROKEN, message: expect.stringContaining(BROKEN) as unknown });
    expect((error as Error).message).toMatch(/syntax error at or near "TABEL"/);
    const rows = await migrationRows(db.url);
    expect(rows.map((r) => [r.migration_name, r.finished_at !== null])).toEqual([...ALL.map((m) => [m, true]), [BROKEN, false]]);
    expect(rows.at(-1)?.logs).toMatch(/syntax error at or near "TABEL"/);
    expect(await query(db.url, "SELECT to_regclass('public.half') AS t")).toEqual([{ t: null }]);
  });

  it("refuses to run again until the failure is resolved", async () => {
    const error = await migrate(db.url, { migrationsDir: dir }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(BROKEN);
    expect((error as Error).message).toMatch(/resolve/i);
    expect(await migrationRows(db.url)).toHaveLength(ALL.length + 1);
  });
});

describe("two migrators at once", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("migrate-concurrent");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("apply each migration exactly once", async () => {
    const results = await Promise.all([
      migrate(db.url, { migrationsDir: MIGRATIONS }),
      migrate(db.url, { migrationsDir: MIGRATIONS }),
    ]);

    expect(results.map((r) => r.applied).flat().sort()).toEqual(ALL);
    expect(results.map((r) => r.skipped).flat().sort()).toEqual(ALL);
    expect(await migrationRows(db.url)).toHaveLength(ALL.length);
  });
});
