import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { startApi, eventually, type ApiFixture } from "../../test/support/api-fixture.js";
import { runToSuccess } from "../../test/support/job-status.js";
import { PrismaRetentionRepository } from "../data/retention-repository.js";
import type { JobView } from "../http/job-presenter.js";
import { PLATFORM_TENANT } from "./principal.js";
import { RetentionSweeper, type RetentionRows } from "./retention.js";

// Retention on the real parts: jobs driven to Succeeded through the apiserver and mirrored into
// Postgres, their files in S3. A job's finished_at is then moved into the past in Postgres directly
// (the mirror writes it again only on a newer resourceVersion, which a finished job no longer gets).

const DAYS = 7;
const log = createLogger({ level: "silent" });
let api: ApiFixture;
let rows: PrismaRetentionRepository;
beforeAll(async () => {
  // The API's own sweeper stays out of the way (its first sweep is one interval after start).
  api = await startApi("retention", { outputRetentionDays: DAYS, retentionSweepIntervalMs: 3_600_000 });
  rows = new PrismaRetentionRepository(api.prisma);
});
afterAll(async () => api?.stop());

const png = Buffer.from("not really a png, bytes all the same");
const exists = async (key: string) => (await api.store.head(key)) !== undefined;
const viewOf = async (uid: string) => (await (await api.fetch(`${api.url}/v1/jobs/${uid}`)).json()) as JobView;

/** Deletes that reach the real store, counted. */
function countingStore() {
  const deleted: string[] = [];
  return {
    deleted,
    store: { keyOf: (uri: string) => api.store.keyOf(uri), get: (key: string) => api.store.get(key), delete: async (key: string) => { deleted.push(key); await api.store.delete(key); } },
  };
}
const sweeper = (store: ReturnType<typeof countingStore>["store"], r: Pick<RetentionRows, "sweep"> = rows, batch = 50) =>
  new RetentionSweeper({ rows: r, store, log, defaultDays: DAYS, intervalMs: 3_600_000, batch });

/** A job of the fixture's namespace that succeeded with an output in its own outputs/, finished `hoursAgo` ago. */
async function finishedJob(name: string, hoursAgo: number, opts: { upload?: string; outputKey?: string } = {}) {
  const outputKey = opts.outputKey ?? `outputs/${api.namespace}/${name}/1.png`;
  await api.store.put(outputKey, png, { contentType: "image/png" });
  const job = await api.createJob(name, opts.upload ? { input: { uri: `upload:${opts.upload}` } } : {});
  const uid = job.metadata.uid!;
  await runToSuccess(api, name, { uri: api.store.uri(outputKey), contentType: "image/png", width: 8, height: 6, bytes: png.length });
  await eventually(async () => (await api.prisma.job.findUnique({ where: { uid } }))?.phase === "Succeeded", `${name} to be mirrored as succeeded`);
  await api.prisma.$executeRaw`UPDATE jobs SET finished_at = now() - make_interval(hours => ${hoursAgo}::int) WHERE uid = ${uid}::uuid`;
  return { uid, outputKey };
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

async function setRetention(days: number | null) {
  const res = await fetch(`${api.url}/v1/tenants/${PLATFORM_TENANT}`, {
    method: "PATCH", headers: { authorization: `Bearer ${api.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ limits: { output_retention_days: days } }),
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { limits: { output_retention_days: number | null } }).limits.output_retention_days).toBe(days);
}

describe("retention sweeper", () => {
  it("deletes the output and upload of a job past retention, keeps one within it, and history says which", async () => {
    const upload = `uploads/${api.namespace}/old-input.png`;
    await api.store.put(upload, png, { contentType: "image/png" });
    const old = await finishedJob("ret-old", DAYS * 24 + 1, { upload });
    const fresh = await finishedJob("ret-fresh", DAYS * 24 - 2);
    const { deleted, store } = countingStore();

    expect(await sweeper(store).sweepAll()).toBe(1);

    expect(deleted.sort()).toEqual([old.outputKey, upload].sort());
    expect(await exists(old.outputKey)).toBe(false);
    expect(await exists(upload)).toBe(false);
    expect(await exists(fresh.outputKey)).toBe(true);

    const gone = await viewOf(old.uid);
    expect(gone.status).toBe("succeeded");
    expect(gone.output).toMatchObject({ url: null, url_expires_at: null, expires_at: null, content_type: "image/png", width: 8, height: 6, bytes: png.length });
    expect(Date.parse(gone.output!.expired_at!)).toBeGreaterThan(Date.parse(gone.finished_at!));

    const kept = await viewOf(fresh.uid);
    expect(kept.output).toMatchObject({ expired_at: null, url: expect.any(String) as string });
    expect(Date.parse(kept.output!.expires_at!)).toBe(Date.parse(kept.finished_at!) + DAYS * 86_400_000);

    // A second sweep finds nothing: the expired row is marked once.
    expect(await sweeper(countingStore().store).sweepAll()).toBe(0);
  });

  it("follows the tenant's own retention, and the default again when it is unset", async () => {
    const job = await finishedJob("ret-tenant", 3 * 24);
    try {
      expect(await sweeper(countingStore().store).sweepAll()).toBe(0);
      await setRetention(2);
      const { deleted, store } = countingStore();
      // ret-fresh of the first test (about 7 days old) goes too.
      expect(await sweeper(store).sweepAll()).toBe(2);
      expect(deleted).toContain(job.outputKey);
      expect(await exists(job.outputKey)).toBe(false);
    } finally {
      await setRetention(null);
    }
  });

  it("keeps an upload another kept job still names", async () => {
    const upload = `uploads/${api.namespace}/shared-input.png`;
    await api.store.put(upload, png, { contentType: "image/png" });
    const old = await finishedJob("ret-shared-old", DAYS * 24 + 1, { upload });
    await finishedJob("ret-shared-new", 1, { upload });
    const { deleted, store } = countingStore();
    expect(await sweeper(store).sweepAll()).toBe(1);
    expect(deleted).toEqual([old.outputKey]);
    expect(await exists(upload)).toBe(true);
  });

  it("never deletes outside the job's namespace's own outputs/ and uploads/", async () => {
    const foreignOutput = "outputs/someone-else/x/1.png";
    const foreignUpload = "uploads/someone-else/in.png";
    await api.store.put(foreignUpload, png);
    const job = await finishedJob("ret-foreign", DAYS * 24 + 1, { outputKey: foreignOutput, upload: foreignUpload });
    const { deleted, store } = countingStore();
    expect(await sweeper(store).sweepAll()).toBe(1);
    expect(deleted).toEqual([]);
    expect(await exists(foreignOutput)).toBe(true);
    expect(await exists(foreignUpload)).toBe(true);
    expect((await viewOf(job.uid)).output).toMatchObject({ url: null });
  });

  it("two sweepers at once claim different jobs: each file is deleted once, each row marked once", async () => {
    const jobs = await Promise.all([1, 2, 3, 4].map((i) => finishedJob(`ret-race-${i}`, DAYS * 24 + 5)));
    // Each sweeper holds its first batch until the other has claimed one too (or has finished),
    // so both hold row locks at the same moment.
    const arrived = [signal(), signal()];
    const held = (i: number): Pick<RetentionRows, "sweep"> => ({
      sweep: (days, limit, remove) => rows.sweep(days, limit, async (due) => {
        arrived[i]!.resolve();
        await arrived[1 - i]!.promise;
        return remove(due);
      }),
    });
    const { deleted, store } = countingStore();
    const [a, b] = await Promise.all([0, 1].map((i) => sweeper(store, held(i), 2).sweepAll().finally(() => arrived[i]!.resolve())));
    expect(a).toBe(2);
    expect(b).toBe(2);
    expect(deleted.sort()).toEqual(jobs.map((j) => j.outputKey).sort());
    for (const j of jobs) expect(await exists(j.outputKey)).toBe(false);
    const marked = await api.prisma.job.findMany({ where: { uid: { in: jobs.map((j) => j.uid) } } });
    expect(marked.every((r) => r.outputExpiredAt !== null)).toBe(true);
  });

  it("leaves a job whose files could not be deleted for the next sweep", async () => {
    const job = await finishedJob("ret-retry", DAYS * 24 + 1);
    const failing = { keyOf: (uri: string) => api.store.keyOf(uri), get: (key: string) => api.store.get(key), delete: () => Promise.reject(new Error("storage is down")) };
    expect(await sweeper(failing).sweepAll()).toBe(0);
    expect((await api.prisma.job.findUnique({ where: { uid: job.uid } }))?.outputExpiredAt).toBeNull();
    const { deleted, store } = countingStore();
    expect(await sweeper(store).sweepAll()).toBe(1);
    expect(deleted).toEqual([job.outputKey]);
  });
});

describe("the API's own sweeper", () => {
  let swept: ApiFixture;
  beforeAll(async () => {
    swept = await startApi("retention-api", { outputRetentionDays: 1, retentionSweepIntervalMs: 1000 });
  });
  afterAll(async () => swept?.stop());

  it("runs every RETENTION_SWEEP_INTERVAL_MS once started, and GET then shows the output expired", async () => {
    const outputKey = `outputs/${swept.namespace}/ret-api/1.png`;
    await swept.store.put(outputKey, png, { contentType: "image/png" });
    const uid = (await swept.createJob("ret-api")).metadata.uid!;
    await runToSuccess(swept, "ret-api", { uri: swept.store.uri(outputKey), contentType: "image/png", width: 8, height: 6, bytes: png.length });
    await eventually(async () => (await swept.prisma.job.findUnique({ where: { uid } }))?.phase === "Succeeded", "the job to be mirrored as succeeded");
    await swept.prisma.$executeRaw`UPDATE jobs SET finished_at = now() - interval '25 hours' WHERE uid = ${uid}::uuid`;

    const view = await eventually(async () => {
      const v = (await (await swept.fetch(`${swept.url}/v1/jobs/${uid}`)).json()) as JobView;
      return v.output?.expired_at && v;
    }, "the sweeper to expire the output");
    expect(view.output).toMatchObject({ url: null, expires_at: null, bytes: png.length });
    expect(await swept.store.head(outputKey)).toBeUndefined();
  });
});
