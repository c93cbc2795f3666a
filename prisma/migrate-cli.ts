// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (see prisma/migrate.ts).
import { migrate } from "./migrate.js";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error("DATABASE_URL is not set: point it at the Postgres database to migrate, e.g. postgresql://user:password@host:5432/pixelmill");
  process.exit(1);
}

try {
  // Progress and warnings go to stderr so that stdout carries only the outcome.
  const log = (msg: string, fields?: object): void => console.error(fields ? `${msg} ${JSON.stringify(fields)}` : msg);
  const { applied, skipped } = await migrate(databaseUrl, { log });
  for (const name of applied) console.log(`applied ${name}`);
  console.log(`${applied.length} migration(s) applied, ${skipped.length} already applied`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
