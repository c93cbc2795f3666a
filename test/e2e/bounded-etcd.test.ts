import { afterAll, beforeAll, expect, it } from "vitest";
import sharp from "sharp";
import { Watch } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { processRegistry } from "../../common/metrics.js";
import { KubeJobSource } from "../../common/kube/kube-list-source.js";
import { JobEvents } from "../../api/domain/job-events.js";
import { PrismaJobRepository } from "../../api/data/job-repository.js";
import { JobMirror } from "../../api/mirror/job-mirror.js";
import { FinishedJobDeleter, type DeleteOutcome, type DeleteTarget, type JobDeletePort } from "../../api/mirror/finished-job-deleter.js";
import { KubeJobDeleter } from "../../api/kube/kube-job-deleter.js";
import { startApi, eventually, type ApiFixture } from "../support/api-fixture.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";
import { kubeConfig } from "../support/env.js";
import { sample } from "../support/metrics.js";

/**
 * Bounded etcd (ADR 0018) on the whole platform: API (two mirrors, as two replicas would run),
 * operator and an ONNX worker. Each finished job leaves etcd a second after it finished, its
 * history complete in Postgres, for at most 5 apiserver writes and exactly one delete.
 */
let api: ApiFixture;
let pipeline: Pipeline;
let replica: JobMirror;
const log = createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" });

/** The second replica's deletes, through the real apiserver, counted. */
class CountingPort implements JobDeletePort {
  readonly sent: DeleteOutcome[] = [];
  private readonly real = new KubeJobDeleter(kubeConfig());
  async deleteJob(t: DeleteTarget): Promise<DeleteOutcome> {
    const outcome = await this.real.deleteJob(t);
    this.sent.push(outcome);
    return outcome;
  }
}
const secondPort = new CountingPort();

beforeAll(async () => {
  api = await startApi("etcd", { deleteFinishedAfterSeconds: 1 });
  pipeline = await startPipeline(api, "etcd", log);
  const deleter = new FinishedJobDeleter({ port: secondPort, log, delayMs: 1000, backupDelayMs: 3000 });
  replica = new JobMirror({ source: new KubeJobSource(kubeConfig(), api.namespace, 60), jobs: new PrismaJobRepository(api.prisma), events: new JobEvents(), log, deleter });
  replica.start();
  await eventually(() => replica.synced, "the second mirror to list");
}, 180_000);

afterAll(async () => {
  await replica?.stop();
  await pipeline?.stop();
  await api?.stop();
});

const apiDeletes = async () => sample(await processRegistry().metrics(), 'pixelmill_kube_api_requests_total{component="api",verb="delete",code="200"}');

it("finished jobs leave etcd a second after they finish, history intact, at most 5 writes and one delete each", async () => {
  const events = new Map<string, string[]>();
  const abort = await new Watch(api.kc).watch(`/apis/${GROUP}/${VERSION}/namespaces/${api.namespace}/${IMAGEJOB_PLURAL}`, {},
    (type: string, job: ImageJob) => {
      const uid = job.metadata.uid!;
      events.set(uid, [...(events.get(uid) ?? []), `${type}:${job.status?.phase ?? "-"}`]);
    }, () => {});
  const deletesBefore = await apiDeletes();
  const ids: string[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      // Different pixels each, so the result cache answers none of them.
      const png = await sharp(Buffer.alloc(8 * 6 * 3, 17 * i + 3), { raw: { width: 8, height: 6, channels: 3 } }).png().toBuffer();
      const form = new FormData();
      form.set("model", "grayscale");
      form.set("image", new Blob([png]), "in.png");
      const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await eventually(() => ids.every((id) => events.get(id)?.some((e) => e.startsWith("DELETED"))), "every job to leave etcd", 90_000);
    // Past the second replica's backup delay: it heard each delete and sent none of its own.
    await new Promise((r) => setTimeout(r, 3500));
  } finally {
    (abort as { abort(): void }).abort();
  }

  for (const id of ids) {
    const seen = events.get(id)!;
    // Each event is one write: create, Queued, Running, Succeeded, delete (a fast job may skip Running).
    expect(seen.length, seen.join(",")).toBeLessThanOrEqual(5);
    expect(seen[0]).toMatch(/^ADDED/);
    expect(seen.at(-1)).toBe("DELETED:Succeeded");
    expect(seen.filter((e) => e.startsWith("DELETED"))).toHaveLength(1);
    const view = (await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as { status: string; error: unknown; output: { url: string; width: number } | null };
    expect(view).toMatchObject({ status: "succeeded", error: null, output: { width: 8, url: expect.any(String) as string } });
    const row = await eventually(async () => { const r = await api.jobs.get(api.namespace, id); return r?.deletedAt ? r : undefined; }, "the row marked deleted");
    expect(row).toMatchObject({ phase: "Succeeded", attempts: 1, output: { contentType: "image/png", usage: { runSeconds: expect.any(Number) as number } } });
    expect(row.runSeconds).toBeGreaterThan(0);
  }
  // One delete per job across both replicas, all of them accepted.
  const fixtureDeletes = (await apiDeletes()) - deletesBefore;
  expect(fixtureDeletes + secondPort.sent.length).toBe(ids.length);
  expect(secondPort.sent.every((o) => o === "deleted")).toBe(true);
  const writes = ids.map((id) => events.get(id)!.length);
  console.log(`[bounded-etcd] apiserver writes per job: ${writes.join(", ")} (mean ${(writes.reduce((a, b) => a + b, 0) / writes.length).toFixed(2)}); deletes: ${fixtureDeletes} by the API fixture, ${secondPort.sent.length} by the second replica`);
}, 150_000);
