import { afterAll, beforeAll, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { migrate } from "../../prisma/migrate.js";
import { createTestDatabase, type TestDatabase } from "../../test/support/database.js";
import type { JobRecord } from "../domain/job-record.js";
import { PrismaJobRepository } from "./job-repository.js";
import { createPrisma, type PrismaClient } from "./prisma.js";
import { WrittenJobs } from "./written-jobs.js";

let db: TestDatabase;
let prisma: PrismaClient;

beforeAll(async () => {
  db = await createTestDatabase("written-jobs");
  await migrate(db.url, { migrationsDir: fileURLToPath(new URL("../../prisma/migrations", import.meta.url)) });
  prisma = createPrisma(db.url);
});
afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

const record = (over: Partial<JobRecord> = {}): JobRecord => ({
  uid: randomUUID(), namespace: "ns", name: "job-abc", model: "grayscale", inputUri: "upload:uploads/ns/x.png", params: null, phase: "Pending",
  attempts: 0, createdAt: new Date("2026-05-01T10:00:00Z"), queuedAt: null, startedAt: null, finishedAt: null, output: null, error: null,
  runSeconds: null, gpuSeconds: null, resourceVersion: 100n, deletedAt: null, ...over,
});

/** The real repository, telling what it was sent. */
function counting(real: PrismaJobRepository, sent: string[][]): PrismaJobRepository {
  return Object.assign(Object.create(real) as PrismaJobRepository, {
    upsertMany: (rs: readonly JobRecord[]) => (sent.push(rs.map((r) => `${r.uid}@${r.resourceVersion}`)), real.upsertMany(rs)),
    upsert: (r: JobRecord) => (sent.push([`one ${r.uid}@${r.resourceVersion}`]), real.upsert(r)),
  });
}

it("answers the mirror's write of a state the submit path has just written as Postgres would, without sending it", async () => {
  const real = new PrismaJobRepository(prisma);
  const sent: string[][] = [];
  const jobs = new WrittenJobs(counting(real, sent));
  const [a, b, c] = [record(), record(), record()];
  expect(await jobs.upsert(a)).toBe(true); // the submit path's write
  expect(await jobs.upsert(b)).toBe(true);
  await real.upsert({ ...c, resourceVersion: 90n });
  sent.length = 0;
  const queuedB = { ...b, phase: "Queued" as const, resourceVersion: 110n };
  const outcomes = await jobs.upsertMany([a, b, queuedB, c]);
  // a, and b at 100: known, not sent; b at 110 is; c was never written here.
  expect(sent).toEqual([[`${b.uid}@110`, `${c.uid}@100`]]);
  expect(Object.fromEntries(outcomes)).toEqual({ [a.uid]: { wrote: false }, [b.uid]: { wrote: true, deletedAt: null }, [c.uid]: { wrote: true, deletedAt: null } });
  expect(await real.get("ns", b.uid)).toEqual(queuedB);
  // Once only: the same state again is asked of Postgres (which answers the same).
  expect(Object.fromEntries(await jobs.upsertMany([a]))).toEqual({ [a.uid]: { wrote: false } });
  expect(sent.at(-1)).toEqual([`${a.uid}@100`]);
});

it("answers the submit path's write of a new job the mirror has just written, without sending it", async () => {
  const real = new PrismaJobRepository(prisma);
  const sent: string[][] = [];
  const jobs = new WrittenJobs(counting(real, sent));
  const [a, b] = [record(), record()];
  await jobs.upsertMany([a, { ...b, phase: "Queued", resourceVersion: 120n }]); // the watch was quicker than the submit path
  expect(await jobs.upsert(a)).toBe(false);
  expect(await jobs.upsert(b)).toBe(false); // not remembered (not a new job's state): asked, and Postgres says the same
  expect(sent).toEqual([[`${a.uid}@100`, `${b.uid}@120`], [`one ${b.uid}@100`]]);
  expect(await real.get("ns", a.uid)).toEqual(a);
});
