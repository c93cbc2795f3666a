import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobSpec, type ImageJobStatus } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { migrate } from "../../prisma/migrate.js";
import { createTestDatabase, type TestDatabase } from "../../test/support/database.js";
import { kubeConfig, uniqueName } from "../../test/support/env.js";
import { PrismaJobRepository } from "../data/job-repository.js";
import { createPrisma, type PrismaClient } from "../data/prisma.js";
import { JobEvents } from "../domain/job-events.js";
import { UNSEEN_END, type JobRecord } from "../domain/job-record.js";
import { eventually } from "../../test/support/api-fixture.js";
import { JobMirror } from "./job-mirror.js";
import { KubeJobSource } from "../../common/kube/kube-list-source.js";
import { KubeJobDeleter } from "../kube/kube-job-deleter.js";
import { FinishedJobDeleter, type DeleteOutcome, type DeleteTarget, type JobDeletePort } from "./finished-job-deleter.js";

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const ns = uniqueName("api-mirror");
let db: TestDatabase;
let prisma: PrismaClient;

beforeAll(async () => {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  db = await createTestDatabase("api-mirror");
  await migrate(db.url, { migrationsDir: fileURLToPath(new URL("../../prisma/migrations", import.meta.url)) });
  prisma = createPrisma(db.url);
});
afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
});

const createJob = async (name: string, params?: Record<string, unknown>, spec: Partial<ImageJobSpec> = {}) => (await custom.createNamespacedCustomObject({
  group: GROUP, version: VERSION, namespace: ns, plural: IMAGEJOB_PLURAL,
  body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec: { model: "resize-x2", input: { uri: "https://example.com/a.png" }, params, ...spec } },
})) as ImageJob;

it("on start, records the ImageJobs that exist and marks deleted those gone while it was away", async () => {
  const jobs = new PrismaJobRepository(prisma);
  const [a, b] = [await createJob("before-a"), await createJob("before-b")];
  // A row from an earlier run whose ImageJob was deleted while no mirror watched.
  const vanished: JobRecord = {
    uid: randomUUID(), namespace: ns, name: "vanished", model: "resize-x2", inputUri: "https://example.com/v.png", params: null,
    phase: "Running", attempts: 1, createdAt: new Date(), queuedAt: null, startedAt: null, finishedAt: null, output: null, error: null, runSeconds: null, gpuSeconds: null,
    resourceVersion: 1n, deletedAt: null,
  };
  await jobs.upsert(vanished);

  const events = new JobEvents();
  const heard: string[] = [];
  for (const uid of [a.metadata.uid!, b.metadata.uid!, vanished.uid]) events.subscribe(uid, (r) => heard.push(`${r.name}:${r.deletedAt ? "deleted" : r.phase}`));
  const mirror = new JobMirror({ source: new KubeJobSource(kc, ns), jobs, events, log: createLogger({ level: "silent" }) });
  mirror.start();
  try {
    await eventually(() => mirror.synced, "the first list");
    expect((await jobs.get(ns, a.metadata.uid!))?.name).toBe("before-a");
    expect((await jobs.get(ns, b.metadata.uid!))?.resourceVersion).toBe(BigInt(b.metadata.resourceVersion!));
    // Its end unseen, it is settled: Canceled, saying why, so followers and history see an end.
    expect(await jobs.get(ns, vanished.uid)).toMatchObject({ phase: "Canceled", error: UNSEEN_END, deletedAt: expect.any(Date) as Date });
    expect(heard.sort()).toEqual(["before-a:Pending", "before-b:Pending", "vanished:deleted"]);

    // And what comes after, from the watch; a job Postgres cannot hold is skipped, not retried forever.
    const poison = await createJob("after-poison", { note: "nul \u0000 inside" });
    const c = await createJob("after-c");
    await eventually(() => jobs.get(ns, c.metadata.uid!), "the watch to deliver the new job");
    expect(await jobs.get(ns, poison.metadata.uid!)).toBeUndefined();
  } finally {
    await mirror.stop();
  }
});

describe("deleting finished ImageJobs once recorded (ADR 0018)", () => {
  const at = { group: GROUP, version: VERSION, namespace: ns, plural: IMAGEJOB_PLURAL };
  const readJob = (name: string) => custom.getNamespacedCustomObject({ ...at, name }).then((j) => j as ImageJob, () => undefined);
  const usage = { runSeconds: 0.25, gpus: 2, gpuSeconds: 0.5 };
  const output = { uri: "s3://pixelmill/outputs/x.png", contentType: "image/png", width: 4, height: 4, bytes: 90, usage };
  /** Writes a final status as the operator would: through the status subresource. */
  const finish = async (job: ImageJob, status: ImageJobStatus = {}) => {
    const now = new Date().toISOString();
    const body = { ...job, status: { phase: "Succeeded", attempts: 1, queuedAt: now, startedAt: now, finishedAt: now, output, ...status } };
    return (await custom.replaceNamespacedCustomObjectStatus({ ...at, name: job.metadata.name!, body })) as ImageJob;
  };
  /** The real apiserver's deletes, counted per UID. */
  class CountingPort implements JobDeletePort {
    readonly sent = new Map<string, DeleteOutcome[]>();
    private readonly real = new KubeJobDeleter(kc);
    async deleteJob(t: DeleteTarget): Promise<DeleteOutcome> {
      const outcome = await this.real.deleteJob(t);
      this.sent.set(t.uid, [...(this.sent.get(t.uid) ?? []), outcome]);
      return outcome;
    }
    get total(): number {
      return [...this.sent.values()].reduce((n, o) => n + o.length, 0);
    }
  }
  const mirrorOf = (port: JobDeletePort, delayMs: number, backupDelayMs = 30_000) => {
    const log = createLogger({ level: "silent" });
    const deleter = new FinishedJobDeleter({ port, log, delayMs, backupDelayMs });
    return new JobMirror({ source: new KubeJobSource(kc, ns), jobs: new PrismaJobRepository(prisma), events: new JobEvents(), log, deleter });
  };

  it("deletes a finished job after the delay, its history intact; one with its own TTL stays; a recreated name is not touched", async () => {
    const jobs = new PrismaJobRepository(prisma);
    const port = new CountingPort();
    const mirror = mirrorOf(port, 1000);
    mirror.start();
    try {
      await eventually(() => mirror.synced, "the first list");
      const done = await createJob("done");
      const kept = await createJob("kept-ttl", undefined, { ttlSecondsAfterFinished: 3600 });
      const failed = await createJob("failed");
      const finishedAt = Date.now();
      await finish(done);
      await finish(kept);
      await finish(failed, { phase: "Failed", reason: "InvalidInput", message: "not an image", output: undefined });
      await eventually(async () => !(await readJob("done")) && !(await readJob("failed")), "the mirror to delete the finished jobs");
      expect(Date.now() - finishedAt).toBeGreaterThanOrEqual(900); // not before its delay
      await eventually(async () => (await jobs.get(ns, done.metadata.uid!))?.deletedAt && (await jobs.get(ns, failed.metadata.uid!))?.deletedAt, "the watch to see the deletes");
      expect(await jobs.get(ns, done.metadata.uid!)).toMatchObject({
        phase: "Succeeded", attempts: 1, output, runSeconds: 0.25, gpuSeconds: 0.5, error: null, deletedAt: expect.any(Date) as Date,
      });
      expect(await jobs.get(ns, failed.metadata.uid!)).toMatchObject({ phase: "Failed", error: { reason: "InvalidInput", message: "not an image" }, deletedAt: expect.any(Date) as Date });
      // One delete per job, each answered by the apiserver with the deletion itself.
      expect(Object.fromEntries(port.sent)).toEqual({ [done.metadata.uid!]: ["deleted"], [failed.metadata.uid!]: ["deleted"] });

      // The same name, a new job: not finished, so not deleted (and the old one's delete was UID-bound).
      const again = await createJob("done");
      await new Promise((r) => setTimeout(r, 2500));
      expect((await readJob("done"))?.metadata.uid).toBe(again.metadata.uid);
      // Its own TTL: the operator's to delete, an hour after it finished.
      expect((await readJob("kept-ttl"))?.status?.phase).toBe("Succeeded");
      expect(port.sent.has(kept.metadata.uid!)).toBe(false);
    } finally {
      await mirror.stop();
    }
  });

  it("deletes only what it recorded, with the recorded UID and resourceVersion: a recreated or changed job is left alone", async () => {
    const deleter = new KubeJobDeleter(kc);
    const old = await finish(await createJob("reused"));
    const target = (j: ImageJob): DeleteTarget => ({ namespace: ns, name: j.metadata.name!, uid: j.metadata.uid!, resourceVersion: j.metadata.resourceVersion! });
    await custom.deleteNamespacedCustomObject({ ...at, name: "reused" });
    const fresh = await createJob("reused");
    expect(await deleter.deleteJob(target(old))).toBe("changed");
    expect((await readJob("reused"))?.metadata.uid).toBe(fresh.metadata.uid);
    // Changed since it was recorded (a label, say): the newer state is the mirror's to see first.
    const seen = await finish(fresh);
    await custom.patchNamespacedCustomObject({ ...at, name: "reused", body: [{ op: "add", path: "/metadata/labels", value: { touched: "yes" } }] });
    expect(await deleter.deleteJob(target(seen))).toBe("changed");
    expect(await readJob("reused")).toBeDefined();
    const latest = (await readJob("reused"))!;
    expect(await deleter.deleteJob(target(latest))).toBe("deleted");
    expect(await deleter.deleteJob(target(latest))).toBe("gone");
  });

  it("two replicas: the one that wrote the end deletes, once; after a restart the relist deletes what finished or was recorded meanwhile", async () => {
    const jobs = new PrismaJobRepository(prisma);
    const [portA, portB] = [new CountingPort(), new CountingPort()];
    const a = mirrorOf(portA, 500, 3000);
    const b = mirrorOf(portB, 500, 3000);
    a.start();
    b.start();
    const names = ["pair-1", "pair-2", "pair-3", "pair-4"];
    try {
      await eventually(() => a.synced && b.synced, "both mirrors to list");
      const created = await Promise.all(names.map((n) => createJob(n)));
      await Promise.all(created.map((j) => finish(j)));
      await eventually(async () => (await Promise.all(names.map(readJob))).every((j) => !j), "the finished jobs to be deleted");
      // Past the other replica's backup delay: it heard the deletes and sent none of its own.
      await new Promise((r) => setTimeout(r, 3500));
      expect(portA.total + portB.total).toBe(names.length);
      for (const j of created) expect([...(portA.sent.get(j.metadata.uid!) ?? []), ...(portB.sent.get(j.metadata.uid!) ?? [])]).toEqual(["deleted"]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }

    // While no mirror runs: one job recorded with a long delay (its replica died before deleting), one finished unseen.
    const slow = mirrorOf(new CountingPort(), 3_600_000);
    slow.start();
    const recorded = await createJob("recorded");
    try {
      await eventually(() => slow.synced, "the first list");
      await finish(recorded);
      await eventually(async () => (await jobs.get(ns, recorded.metadata.uid!))?.phase === "Succeeded", "the end to be recorded");
    } finally {
      await slow.stop();
    }
    const unseen = await finish(await createJob("unseen"));
    expect(await readJob("recorded")).toBeDefined();
    const port = new CountingPort();
    const restarted = mirrorOf(port, 500, 1000);
    restarted.start();
    try {
      await eventually(async () => !(await readJob("recorded")) && !(await readJob("unseen")), "the relist to delete both");
      // Its watch hears of the deletes a moment later.
      await eventually(async () => (await jobs.get(ns, recorded.metadata.uid!))?.deletedAt && (await jobs.get(ns, unseen.metadata.uid!))?.deletedAt, "the rows to be marked deleted");
      expect(await jobs.get(ns, recorded.metadata.uid!)).toMatchObject({ phase: "Succeeded", output, deletedAt: expect.any(Date) as Date });
      expect(await jobs.get(ns, unseen.metadata.uid!)).toMatchObject({ phase: "Succeeded", output, runSeconds: 0.25, error: null, deletedAt: expect.any(Date) as Date });
      expect(port.sent.get(recorded.metadata.uid!)).toEqual(["deleted"]);
      expect(port.sent.get(unseen.metadata.uid!)).toEqual(["deleted"]);
    } finally {
      await restarted.stop();
    }
  });
});
