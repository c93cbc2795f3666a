import pg from "pg";
import { testEnv, uniqueName } from "./env.js";

export interface TestDatabase {
  url: string;
  drop: () => Promise<void>;
}

/** A fresh, empty database of its own for one test file or test, on the harness's Postgres. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const adminUrl = testEnv().databaseAdminUrl;
  // uniqueName leaves only [a-z0-9-], so the quoted identifier needs no escaping.
  const name = uniqueName(label).replace(/-/g, "_");
  await withAdmin(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE ends connections a test left open (a pool not closed after a failure).
    drop: () => withAdmin(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function withAdmin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
