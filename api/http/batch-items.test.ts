import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { batchKey, batchManifestKey, BATCH_MANIFEST_CONTENT_TYPE, type BatchItemResult } from "../../common/batch.js";
import { createLogger } from "../../common/logger.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { testEnv } from "../../test/support/env.js";
import { patchStatus } from "../../test/support/job-status.js";
import { PrismaRetentionRepository } from "../data/retention-repository.js";
import { RetentionSweeper } from "../domain/retention.js";
import type { BatchItemListView } from "./schemas.js";

// Items and manifest of a batch on the real parts: the results hash in the harness's Redis written
// as the workers write it (common/batch.ts), the manifest in the real store as the operator writes it.

let api: ApiFixture;
let redis: Redis;
let bucket: string;
beforeAll(async () => {
  api = await startApi("api-batch-items");
  redis = new Redis(testEnv().redisUrl);
  bucket = testEnv().s3.bucket;
});
afterAll(async () => {
  redis?.disconnect();
  await api?.stop();
});

const N = 5;
const inputOf = (i: number) => `s3://${bucket}/inputs/cat-${i}.png`;

async function submitBatch(): Promise<{ id: string; name: string }> {
  const res = await api.fetch(`${api.url}/v1/jobs`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "resize-x2", batch: { inputs: Array.from({ length: N }, (_, i) => inputOf(i)) } }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  return { id, name: (await api.jobs.get(api.namespace, id))!.name };
}

/** Item `i`'s result, its output stored in the real store under the batch's folder. */
async function finishItem(job: { id: string; name: string }, i: number, phase: BatchItemResult["phase"]): Promise<BatchItemResult> {
  const base = { index: i, input: inputOf(i), phase, attempts: 1, finishedAt: new Date().toISOString() };
  if (phase !== "Succeeded") return { ...base, error: { reason: "InputNotFound", message: "no such object" } };
  const key = `outputs/${api.namespace}/${job.name}/${job.id}/items/${i}-1.png`;
  await api.store.put(key, Buffer.from(`item ${i}`), { contentType: "image/png" });
  return { ...base, output: { uri: api.store.uri(key), contentType: "image/png", width: 8, height: 6, bytes: 6 } };
}

const list = async (id: string, query = "") => {
  const res = await api.fetch(`${api.url}/v1/jobs/${id}/items${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as BatchItemListView;
};

/** Every page, following next_cursor, `limit` items each. */
async function allPages(id: string, limit: number): Promise<BatchItemListView[]> {
  const pages = [await list(id, `?limit=${limit}`)];
  while (pages.at(-1)!.next_cursor) pages.push(await list(id, `?limit=${limit}&cursor=${pages.at(-1)!.next_cursor}`));
  return pages;
}

describe("a batch's items and manifest", () => {
  it("lists a running batch's items from Redis in index order, pending ones included, then the finished batch's from its manifest", async () => {
    const job = await submitBatch();
    // Before the operator has listed the items: none yet.
    expect(await list(job.id)).toEqual({ total: N, items: [], next_cursor: null });
    const prefix = api.prefix;
    await redis.hset(batchKey(prefix, job.id, "inputs"), Object.fromEntries(Array.from({ length: N }, (_, i) => [String(i), inputOf(i)])));
    const results = [await finishItem(job, 0, "Succeeded"), await finishItem(job, 3, "Failed")];
    await redis.hset(batchKey(prefix, job.id, "results"), Object.fromEntries(results.map((r) => [String(r.index), JSON.stringify(r)])));

    const pages = await allPages(job.id, 2);
    expect(pages.map((p) => p.items.map((i) => i.index))).toEqual([[0, 1], [2, 3], [4]]);
    const items = pages.flatMap((p) => p.items);
    expect(items.map((i) => i.status)).toEqual(["succeeded", "pending", "pending", "failed", "pending"]);
    expect(items[1]).toEqual({ index: 1, input: inputOf(1), filename: null, status: "pending", attempts: null, finished_at: null, error: null, output: null });
    expect(items[3]).toMatchObject({ status: "failed", attempts: 1, error: { reason: "InputNotFound" }, output: null });
    expect(items[0]!.output).toMatchObject({ content_type: "image/png", width: 8, bytes: 6 });
    expect(await (await fetch(items[0]!.output!.url!)).text()).toBe("item 0");
    const running = await api.fetch(`${api.url}/v1/jobs/${job.id}/manifest`);
    expect(running.status).toBe(409);
    expect(await running.json()).toMatchObject({ type: "https://pixelmill.io/problems/batch-not-finished", job_status: "pending" });

    // The batch ends: the manifest is written, status says so, and the Redis keys go.
    const all = [results[0]!, await finishItem(job, 1, "Succeeded"), await finishItem(job, 2, "Succeeded"), results[1]!, await finishItem(job, 4, "Canceled")];
    const manifest = `${all.map((r) => JSON.stringify(r)).join("\n")}\n`;
    const manifestKey = batchManifestKey(api.namespace, job.name, job.id);
    await api.store.put(manifestKey, Buffer.from(manifest), { contentType: BATCH_MANIFEST_CONTENT_TYPE });
    await patchStatus(api, job.name, {
      phase: "Succeeded", finishedAt: new Date().toISOString(), batch: { total: N, succeeded: 3, failed: 1, running: 0, canceled: 1 },
      output: { uri: api.store.uri(manifestKey), contentType: BATCH_MANIFEST_CONTENT_TYPE, bytes: Buffer.byteLength(manifest) },
    });
    await redis.del(batchKey(prefix, job.id, "inputs"), batchKey(prefix, job.id, "results"));
    await eventually(async () => (await api.jobs.get(api.namespace, job.id))?.phase === "Succeeded", "the batch mirrored as finished");

    const finished = (await allPages(job.id, 3)).flatMap((p) => p.items);
    expect(finished.map((i) => [i.index, i.status])).toEqual([[0, "succeeded"], [1, "succeeded"], [2, "succeeded"], [3, "failed"], [4, "canceled"]]);
    expect(await (await fetch(finished[2]!.output!.url!)).text()).toBe("item 2");
    const got = await api.fetch(`${api.url}/v1/jobs/${job.id}/manifest`);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(await got.text()).toBe(manifest);

    // Retention deletes the item outputs and the manifest with the job's output; the routes then say so.
    await api.prisma.$executeRaw`UPDATE jobs SET finished_at = now() - interval '30 days' WHERE uid = ${job.id}::uuid`;
    const sweeper = new RetentionSweeper({ rows: new PrismaRetentionRepository(api.prisma), store: api.store, log: createLogger({ level: "silent" }), defaultDays: 7, intervalMs: 3_600_000 });
    expect(await sweeper.sweepAll()).toBeGreaterThanOrEqual(1);
    expect((await api.listKeys()).filter((k) => k.includes(job.id))).toEqual([]);
    for (const path of ["items", "manifest"]) {
      const gone = await api.fetch(`${api.url}/v1/jobs/${job.id}/${path}`);
      expect(gone.status, path).toBe(410);
      expect(await gone.json()).toMatchObject({ type: "https://pixelmill.io/problems/batch-expired" });
    }
  });

  it("reads a canceled batch's manifest where the operator writes it (no status names it), and retention deletes it", async () => {
    const job = await submitBatch();
    expect((await api.fetch(`${api.url}/v1/jobs/${job.id}`, { method: "DELETE" })).status).toBe(202);
    const done = [await finishItem(job, 0, "Succeeded"), ...[1, 2, 3, 4].map((i) => ({ index: i, input: inputOf(i), phase: "Canceled" as const, attempts: 0, finishedAt: new Date().toISOString() }))];
    const manifest = done.map((r) => JSON.stringify(r)).join("\n");
    await api.store.put(batchManifestKey(api.namespace, job.name, job.id), Buffer.from(manifest), { contentType: BATCH_MANIFEST_CONTENT_TYPE });
    const items = (await allPages(job.id, 100)).flatMap((p) => p.items);
    expect(items.map((i) => i.status)).toEqual(["succeeded", "canceled", "canceled", "canceled", "canceled"]);
    expect(await (await api.fetch(`${api.url}/v1/jobs/${job.id}/manifest`)).text()).toBe(manifest);
    await api.prisma.$executeRaw`UPDATE jobs SET finished_at = now() - interval '30 days' WHERE uid = ${job.id}::uuid`;
    const sweeper = new RetentionSweeper({ rows: new PrismaRetentionRepository(api.prisma), store: api.store, log: createLogger({ level: "silent" }), defaultDays: 7, intervalMs: 3_600_000 });
    expect(await sweeper.sweepAll()).toBeGreaterThanOrEqual(1);
    expect((await api.listKeys()).filter((k) => k.includes(job.id))).toEqual([]);
  });

  it("answers 409 for a single job, 400 for a cursor or limit it did not hand out, 404 to another tenant", async () => {
    const single = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "resize-x2", input: { uri: inputOf(0) } }) });
    const { id } = (await single.json()) as { id: string };
    for (const path of ["items", "manifest"]) {
      const res = await api.fetch(`${api.url}/v1/jobs/${id}/${path}`);
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/not-a-batch" });
    }
    const batch = await submitBatch();
    for (const query of ["?cursor=bm9wZQ", "?limit=0", "?limit=1001"]) {
      const res = await api.fetch(`${api.url}/v1/jobs/${batch.id}/items${query}`);
      expect(res.status, query).toBe(400);
    }
    const other = await api.newTenant("batch-items-other");
    for (const path of ["items", "manifest"]) {
      const res = await fetch(`${api.url}/v1/jobs/${batch.id}/${path}`, { headers: { authorization: `Bearer ${other.key}` } });
      expect(res.status, path).toBe(404);
    }
  });
});
