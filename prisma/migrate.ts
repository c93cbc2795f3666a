// Applies prisma/migrations the way `prisma migrate deploy` does, with `pg` alone: Prisma's
// schema engine binary cannot be downloaded in air-gapped installs (docs/adr/0002). The
// bookkeeping (table, checksums, advisory lock) is Prisma's own, so either tool sees the other's work.
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import pg from "pg";

/** Prisma migrate's lock key: holding the same one keeps this and `prisma migrate deploy` apart. */
const PRISMA_LOCK_KEY = 72707369;

// Prisma's DDL, column for column, so that `prisma migrate` reads our rows as its own.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export type MigrateLog = (msg: string, fields?: object) => void;

export interface MigrateOptions {
  /** Folder of `<timestamp>_<name>/migration.sql`; default prisma/migrations under the working directory, as for the Prisma CLI. */
  migrationsDir?: string;
  log?: MigrateLog;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

/** A migration failed now or in an earlier run; `migration` names it. */
export class MigrationError extends Error {
  override name = "MigrationError";
  constructor(readonly migration: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

interface LocalMigration {
  name: string;
  sql: string;
  checksum: string;
}

interface RecordedMigration {
  name: string;
  checksum: string;
  finished: boolean;
  rolledBack: boolean;
  startedAt: Date;
}

export async function migrate(databaseUrl: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => {});
  const local = await readMigrations(opts.migrationsDir ?? resolve("prisma", "migrations"));
  const client = new pg.Client({ connectionString: databaseUrl });
  // An idle client that loses its connection emits 'error'; unhandled, that would end the process.
  client.on("error", (err) => log("Postgres connection error", { error: err.message }));
  await client.connect();
  try {
    // Session-level lock: a second migrator (ours or Prisma's) waits here until this run ends.
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_LOCK_KEY]);
    try {
      return await migrateLocked(client, local, log);
    } finally {
      // If the connection broke, Postgres has released the lock already; keep the first error.
      await client.query("SELECT pg_advisory_unlock($1)", [PRISMA_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function migrateLocked(client: pg.Client, local: LocalMigration[], log: MigrateLog): Promise<MigrateResult> {
  await client.query(CREATE_MIGRATIONS_TABLE);
  const recorded = await readRecorded(client);
  refuseFailed(recorded);
  warnAboutDrift(local, recorded, log);
  const finished = new Set(recorded.filter((r) => r.finished && !r.rolledBack).map((r) => r.name));
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const migration of local) {
    if (finished.has(migration.name)) {
      result.skipped.push(migration.name);
      continue;
    }
    await apply(client, migration, log);
    result.applied.push(migration.name);
  }
  return result;
}

/** Lists `<name>/migration.sql` in name order, which is the order Prisma applies them in. */
export async function readMigrations(dir: string): Promise<LocalMigration[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: Error) => {
    throw new Error(`cannot read the migrations directory ${dir}: ${err.message}`, { cause: err });
  });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(names.map(async (name) => {
    const path = join(dir, name, "migration.sql");
    const bytes = await readFile(path).catch((err: Error) => {
      throw new Error(`migration ${name} has no readable migration.sql (${path}): ${err.message}`, { cause: err });
    });
    // Prisma records the sha256 of the file's bytes, not of normalised text.
    return { name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
  }));
}

async function readRecorded(client: pg.Client): Promise<RecordedMigration[]> {
  const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null; started_at: Date }>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at, started_at FROM "_prisma_migrations" ORDER BY started_at`,
  );
  return rows.map((r) => ({
    name: r.migration_name,
    checksum: r.checksum,
    finished: r.finished_at !== null,
    rolledBack: r.rolled_back_at !== null,
    startedAt: r.started_at,
  }));
}

/** Like Prisma's P3009: after a failed migration the schema is in an unknown state, so nothing more is applied. */
function refuseFailed(recorded: RecordedMigration[]): void {
  const failed = recorded.find((r) => !r.finished && !r.rolledBack);
  if (!failed) return;
  throw new MigrationError(failed.name,
    `migration ${failed.name} failed in an earlier run (started ${failed.startedAt.toISOString()}) and is not resolved, ` +
    "so no further migrations are applied. Resolve it: repair the database by hand, then either mark it rolled back " +
    `(UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = '${failed.name}' AND finished_at IS NULL; ` +
    `or 'prisma migrate resolve --rolled-back ${failed.name}') so that it is applied again, ` +
    `or mark it applied ('prisma migrate resolve --applied ${failed.name}').`);
}

/** Warnings only, as with Prisma: a changed or missing file does not change what the database holds. */
function warnAboutDrift(local: LocalMigration[], recorded: RecordedMigration[], log: MigrateLog): void {
  const byName = new Map(local.map((m) => [m.name, m]));
  for (const row of recorded.filter((r) => r.finished && !r.rolledBack)) {
    const file = byName.get(row.name);
    if (!file) log("Applied migration is missing from the migrations directory", { migration: row.name });
    else if (file.checksum !== row.checksum) {
      log("Migration file was modified after it was applied", { migration: row.name, applied: row.checksum, file: file.checksum });
    }
  }
}

async function apply(client: pg.Client, migration: LocalMigration, log: MigrateLog): Promise<void> {
  log("Applying migration", { migration: migration.name });
  const started = Date.now();
  const id = randomUUID();
  // Recorded before the SQL runs and outside its transaction, so a failure leaves the row behind.
  await client.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)`,
    [id, migration.checksum, migration.name],
  );
  try {
    await client.query("BEGIN");
    // One multi-statement string: the simple query protocol runs it as written.
    await client.query(migration.sql);
    // Inside the transaction, so the schema change and its record commit together.
    await client.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    const logs = describeFailure(migration.name, err);
    await client.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, logs]).catch(() => undefined);
    throw new MigrationError(migration.name, `migration ${migration.name} failed: ${errorMessage(err)}`, { cause: err });
  }
  log("Applied migration", { migration: migration.name, durationMs: Date.now() - started });
}

/** What goes into `_prisma_migrations.logs`: enough to find the failing statement without the app's logs. */
function describeFailure(name: string, err: unknown): string {
  const parts = [`Migration name: ${name}`];
  if (err instanceof pg.DatabaseError) {
    if (err.code) parts.push(`Database error code: ${err.code}`);
    parts.push(`Database error:\nERROR: ${err.message}`);
    if (err.position) parts.push(`Position: character ${err.position} of migration.sql`);
    if (err.detail) parts.push(`Detail: ${err.detail}`);
    if (err.hint) parts.push(`Hint: ${err.hint}`);
  } else {
    parts.push(`Error:\n${errorMessage(err)}`);
  }
  return parts.join("\n\n");
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
