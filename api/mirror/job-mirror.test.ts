import { afterAll, beforeAll, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
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

const createJob = async (name: string, params?: Record<string, unknown>) => (await custom.createNamespacedCustomObject({
  group: GROUP, version: VERSION, namespace: ns, plural: IMAGEJOB_PLURAL,
  body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec: { model: "resize-x2", input: { uri: "https://example.com/a.png" }, params } },
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
