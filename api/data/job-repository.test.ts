import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { migrate } from "../../prisma/migrate.js";
import { createTestDatabase, type TestDatabase } from "../../test/support/database.js";
import { UnstorableJobError } from "../domain/errors.js";
import type { JobRecord } from "../domain/job-record.js";
import { PrismaJobRepository } from "./job-repository.js";
import { createPrisma, type PrismaClient } from "./prisma.js";

let db: TestDatabase;
let prisma: PrismaClient;
let repo: PrismaJobRepository;

beforeAll(async () => {
  db = await createTestDatabase("api-repo");
  await migrate(db.url, { migrationsDir: fileURLToPath(new URL("../../prisma/migrations", import.meta.url)) });
  prisma = createPrisma(db.url);
  repo = new PrismaJobRepository(prisma);
});
afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

function record(over: Partial<JobRecord> = {}): JobRecord {
  return {
    uid: randomUUID(), namespace: "ns", name: "job-abc", model: "resize-x2", inputUri: "upload:uploads/ns/x.png",
    params: { strength: 0.5 }, phase: "Pending", attempts: 0, createdAt: new Date("2026-05-01T10:00:00Z"),
    queuedAt: null, startedAt: null, finishedAt: null, output: null, error: null, runSeconds: null, gpuSeconds: null, resourceVersion: 100n, deletedAt: null,
    ...over,
  };
}

describe("PrismaJobRepository", () => {
  it("inserts, moves forward, and ignores a stale resourceVersion", async () => {
    const r = record();
    expect(await repo.upsert(r)).toBe(true);
    expect(await repo.get("ns", r.uid)).toEqual(r);

    const running = { ...r, phase: "Running" as const, attempts: 1, startedAt: new Date("2026-05-01T10:00:05Z"), resourceVersion: 120n };
    expect(await repo.upsert(running)).toBe(true);
    // An older state arriving late (a re-delivered event, or the API's insert after the mirror's) changes nothing.
    expect(await repo.upsert({ ...r, phase: "Queued", resourceVersion: 110n })).toBe(false);
    expect(await repo.upsert({ ...running, phase: "Failed" })).toBe(false);
    expect(await repo.get("ns", r.uid)).toEqual(running);
  });

  it("marks a running job canceled, and no later state of it undoes that", async () => {
    const r = record({ phase: "Running", attempts: 1, resourceVersion: 200n });
    await repo.upsert(r);
    const at = new Date("2026-05-01T10:01:00Z");
    const canceled = await repo.markCanceled(r.uid, at, { reason: "Canceled", message: "deleted before it finished" });
    expect(canceled).toMatchObject({ phase: "Canceled", finishedAt: at, deletedAt: at, error: { reason: "Canceled", message: "deleted before it finished" } });
    // The watch delivers a newer state that was written before the delete: it must not win.
    expect(await repo.upsert({ ...r, phase: "Running", attempts: 2, resourceVersion: 210n })).toBe(false);
    expect(await repo.get("ns", r.uid)).toEqual(canceled);
  });

  it("keeps the ending of a job that finished before it could be canceled", async () => {
    const r = record({ phase: "Succeeded", attempts: 1, resourceVersion: 300n });
    await repo.upsert(r);
    expect(await repo.markCanceled(r.uid, new Date(), { reason: "Canceled", message: "x" })).toEqual(r);
  });

  it("tells a record Postgres can never store from a passing failure", async () => {
    await expect(repo.upsert(record({ params: { note: "nul \u0000 inside" } }))).rejects.toBeInstanceOf(UnstorableJobError);
  });

  it("round-trips output and error JSON and every timestamp", async () => {
    const r = record({
      phase: "Succeeded", queuedAt: new Date("2026-05-01T10:00:01.123Z"), startedAt: new Date("2026-05-01T10:00:02Z"),
      finishedAt: new Date("2026-05-01T10:00:03Z"), output: { uri: "s3://b/k.png", contentType: "image/png", width: 2, height: 3, bytes: 44 },
      error: { reason: "Timeout", message: "first attempt timed out" }, params: null, resourceVersion: 9_007_199_254_740_993n,
    });
    await repo.upsert(r);
    expect(await repo.get("ns", r.uid)).toEqual(r);
    expect(await repo.get("other-ns", r.uid)).toBeUndefined();
  });

  it("upserts many in one statement, leaving each row as upserting the records one by one would", async () => {
    const fresh = record({ params: { note: "quote \" and {braces}" }, inputUri: null });
    const moving = record({ resourceVersion: 100n });
    const stale = record({ phase: "Running", attempts: 1, resourceVersion: 500n });
    const canceled = record({ phase: "Running", attempts: 1, resourceVersion: 600n });
    const gone = record({ phase: "Succeeded", attempts: 1, resourceVersion: 700n, deletedAt: new Date("2026-05-01T11:00:00Z") });
    await repo.upsert(moving);
    await repo.upsert(stale);
    await repo.upsert(canceled);
    await repo.upsert(gone);
    await repo.markCanceled(canceled.uid, new Date("2026-05-01T10:30:00Z"), { reason: "Canceled", message: "deleted" });
    const queued = { ...moving, phase: "Queued" as const, queuedAt: new Date("2026-05-01T10:00:01.5Z"), resourceVersion: 110n };
    const succeeded = {
      ...queued, phase: "Succeeded" as const, attempts: 1, finishedAt: new Date("2026-05-01T10:00:03Z"), runSeconds: 0.25, gpuSeconds: 0.5,
      output: { uri: "s3://b/k.png", contentType: "image/png", width: 2, height: 3, bytes: 44 }, resourceVersion: 130n,
    };
    const goneAgain = { ...gone, resourceVersion: 710n, deletedAt: new Date("2026-05-01T12:00:00Z") };
    const outcomes = await repo.upsertMany([fresh, queued, succeeded, { ...queued, resourceVersion: 120n }, { ...stale, phase: "Queued", resourceVersion: 400n },
      { ...canceled, phase: "Succeeded", resourceVersion: 650n }, goneAgain]);
    expect(Object.fromEntries(outcomes)).toEqual({
      [fresh.uid]: { wrote: true, deletedAt: null }, [moving.uid]: { wrote: true, deletedAt: null }, [stale.uid]: { wrote: false },
      [canceled.uid]: { wrote: false }, [gone.uid]: { wrote: true, deletedAt: gone.deletedAt },
    });
    expect(await repo.get("ns", fresh.uid)).toEqual(fresh);
    expect(await repo.get("ns", moving.uid)).toEqual(succeeded);
    expect(await repo.get("ns", stale.uid)).toEqual(stale);
    expect(await repo.get("ns", canceled.uid)).toMatchObject({ phase: "Canceled", resourceVersion: 600n });
    // An earlier deleted_at is kept.
    expect(await repo.get("ns", gone.uid)).toEqual({ ...goneAgain, deletedAt: gone.deletedAt });
    expect(await repo.upsertMany([])).toEqual(new Map());
    // One record Postgres cannot store refuses the batch, said so.
    await expect(repo.upsertMany([record(), record({ params: { note: "nul \u0000 inside" } })])).rejects.toBeInstanceOf(UnstorableJobError);
  });

  it("marks deleted once, keeping the row", async () => {
    const r = record();
    await repo.upsert(r);
    const at = new Date("2026-05-02T00:00:00Z");
    expect(await repo.markDeleted(r.uid, at)).toEqual({ ...r, deletedAt: at });
    expect((await repo.markDeleted(r.uid, new Date()))?.deletedAt).toEqual(at);
    // A later state of a deleted job does not bring it back.
    await repo.upsert({ ...r, phase: "Canceled", resourceVersion: 200n });
    expect(await repo.get("ns", r.uid)).toMatchObject({ phase: "Canceled", deletedAt: at });
    expect(await repo.markDeleted(randomUUID(), at)).toBeUndefined();
  });

  it("after a relist, settles what the list lacks (unfinished ones Canceled), but not rows newer than the list", async () => {
    const ns = `relist-${randomUUID().slice(0, 8)}`;
    const takenAt = new Date("2026-05-01T12:00:00Z");
    const end = { reason: "Canceled", message: "gone unseen" };
    const finishedAt = new Date("2026-05-01T10:05:00Z");
    const [kept, queued, succeeded, newer, earlierCluster] = [
      record({ namespace: ns }),
      record({ namespace: ns, phase: "Queued", attempts: 1 }),
      record({ namespace: ns, phase: "Succeeded", finishedAt, output: { uri: "s3://b/o.png" } }),
      // Created as the list was taken: newer than it, and young.
      record({ namespace: ns, resourceVersion: 500n, createdAt: new Date(takenAt.getTime() - 5_000) }),
      // A row of the cluster npm run dev had before: any resourceVersion, but old.
      record({ namespace: ns, phase: "Running", resourceVersion: 900_000n, createdAt: new Date("2026-04-30T09:00:00Z") }),
    ];
    for (const r of [kept, queued, succeeded, newer, earlierCluster]) await repo.upsert(r);
    // The list covers every namespace: the other tests' rows are in it.
    const others = (await prisma.job.findMany({ where: { namespace: { not: ns } }, select: { uid: true } })).map((r) => r.uid);
    const present = [kept.uid, ...others];
    const settled = await repo.settleMissing(present, { resourceVersion: 300n, takenAt }, end);
    expect(settled.map((r) => r.uid).sort()).toEqual([queued.uid, succeeded.uid, earlierCluster.uid].sort());
    expect(await repo.get(ns, queued.uid)).toMatchObject({ phase: "Canceled", error: end, finishedAt: takenAt, deletedAt: takenAt, attempts: 1 });
    expect(await repo.get(ns, earlierCluster.uid)).toMatchObject({ phase: "Canceled", error: end, deletedAt: takenAt });
    expect(await repo.get(ns, succeeded.uid)).toMatchObject({ phase: "Succeeded", error: null, finishedAt, deletedAt: takenAt });
    expect(await repo.get(ns, newer.uid)).toMatchObject({ phase: "Pending", deletedAt: null });
    expect(await repo.get(ns, kept.uid)).toMatchObject({ phase: "Pending", deletedAt: null });
    expect(await repo.settleMissing(present, { resourceVersion: 300n, takenAt }, end)).toEqual([]);
  });

  it("pages newest first by created_at then uid, with filters", async () => {
    const ns = `page-${randomUUID().slice(0, 8)}`;
    const same = new Date("2026-05-03T00:00:00Z");
    const rows = [
      record({ namespace: ns, createdAt: same }), record({ namespace: ns, createdAt: same }), record({ namespace: ns, createdAt: same }),
      record({ namespace: ns, createdAt: new Date("2026-05-04T00:00:00Z"), phase: "Queued" }),
      record({ namespace: ns, createdAt: new Date("2026-05-02T00:00:00Z"), model: "other" }),
    ];
    for (const r of rows) await repo.upsert(r);
    const all = await repo.list({ namespace: ns, limit: 10 });
    const expected = [...rows].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (b.uid < a.uid ? -1 : 1));
    expect(all.map((r) => r.uid)).toEqual(expected.map((r) => r.uid));
    const second = all[1]!;
    const after = await repo.list({ namespace: ns, limit: 10, after: { createdAt: second.createdAt, uid: second.uid } });
    expect(after.map((r) => r.uid)).toEqual(expected.slice(2).map((r) => r.uid));
    expect((await repo.list({ namespace: ns, limit: 10, phase: "Queued" })).map((r) => r.uid)).toEqual([rows[3]!.uid]);
    expect((await repo.list({ namespace: ns, limit: 10, model: "other" })).map((r) => r.uid)).toEqual([rows[4]!.uid]);
  });
});
