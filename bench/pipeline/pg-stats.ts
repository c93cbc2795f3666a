import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

/** Postgres' own counters for one database: transactions and rows written, in all and per table. */
export interface PgStats {
  xactCommit: number;
  xactRollback: number;
  inserted: number;
  updated: number;
  deleted: number;
  tables: Map<string, { ins: number; upd: number; del: number }>;
}

/**
 * Reads pg_stat_database and pg_stat_user_tables of `databaseUrl`'s database. A backend sends its
 * counts to the statistics system at most once a second, and one gone idle with counts still
 * pending sends them after 10 s (Postgres 15's PGSTAT_IDLE_INTERVAL): wait that out first, so what
 * the platform's pooled connections did is in. This read's own transaction counts too (one per snapshot).
 */
export async function pgStats(databaseUrl: string, settleMs = 11_000): Promise<PgStats> {
  await sleep(settleMs);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SELECT pg_stat_clear_snapshot()");
    const db = await client.query<{ xact_commit: string; xact_rollback: string; tup_inserted: string; tup_updated: string; tup_deleted: string }>(
      "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()");
    const tables = await client.query<{ relname: string; n_tup_ins: string; n_tup_upd: string; n_tup_del: string }>(
      "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables");
    const row = db.rows[0]!;
    return {
      xactCommit: Number(row.xact_commit), xactRollback: Number(row.xact_rollback),
      inserted: Number(row.tup_inserted), updated: Number(row.tup_updated), deleted: Number(row.tup_deleted),
      tables: new Map(tables.rows.map((t) => [t.relname, { ins: Number(t.n_tup_ins), upd: Number(t.n_tup_upd), del: Number(t.n_tup_del) }])),
    };
  } finally {
    await client.end();
  }
}

/** after − before; tables with no rows written left out. */
export function pgDiff(before: PgStats, after: PgStats): PgStats {
  const tables = new Map<string, { ins: number; upd: number; del: number }>();
  for (const [name, t] of after.tables) {
    const b = before.tables.get(name) ?? { ins: 0, upd: 0, del: 0 };
    const d = { ins: t.ins - b.ins, upd: t.upd - b.upd, del: t.del - b.del };
    if (d.ins || d.upd || d.del) tables.set(name, d);
  }
  return {
    xactCommit: after.xactCommit - before.xactCommit, xactRollback: after.xactRollback - before.xactRollback,
    inserted: after.inserted - before.inserted, updated: after.updated - before.updated, deleted: after.deleted - before.deleted, tables,
  };
}
