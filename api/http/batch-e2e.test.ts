import { afterAll, beforeAll, expect, it } from "vitest";
import sharp from "sharp";
import { createLogger } from "../../common/logger.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { startPipeline, type Pipeline } from "../../test/support/pipeline.js";
import type { BatchItemListView, JobView } from "./schemas.js";

// A batch through the whole platform: submitted over HTTP, expanded by the real operator, its
// items run by a real ONNX worker (CPU), listed and downloaded through the API.

let api: ApiFixture;
let pipeline: Pipeline;
beforeAll(async () => {
  api = await startApi("api-batch-e2e");
  // The operator and worker share the API's QUEUE_PREFIX, as in a deployment: the API reads the batch's Redis keys.
  pipeline = await startPipeline(api, "batch-e2e", createLogger({ level: "silent" }), { queuePrefix: api.prefix });
}, 120_000);
afterAll(async () => {
  await pipeline?.stop();
  await api?.stop();
});

it("runs every item of a batch, lists each with its output, and serves the manifest", async () => {
  const N = 6;
  const uris: string[] = [];
  for (let i = 0; i < N; i++) {
    const key = `uploads/${api.namespace}/e2e/${i}.png`;
    await api.store.put(key, await sharp({ create: { width: 4 + i, height: 3, channels: 3, background: "#336699" } }).png().toBuffer(), { contentType: "image/png" });
    uris.push(`upload:${key}`);
  }
  // One item names nothing: it fails alone, the batch still succeeds.
  uris.push(`upload:uploads/${api.namespace}/e2e/missing.png`);
  const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "resize-x2", batch: { inputs: uris } }) });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };

  const view = await eventually(async () => {
    const v = (await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView;
    return v.status === "succeeded" || v.status === "failed" ? v : undefined;
  }, "the batch to finish", 120_000);
  expect(view.status, JSON.stringify(view.error)).toBe("succeeded");
  expect(view.batch).toMatchObject({ total: N + 1, succeeded: N, failed: 1, running: 0 });
  expect(view.output?.content_type).toBe("application/x-ndjson");

  const page = (await (await api.fetch(`${api.url}/v1/jobs/${id}/items?limit=1000`)).json()) as BatchItemListView;
  expect(page.total).toBe(N + 1);
  expect(page.next_cursor).toBeNull();
  expect(page.items.map((i) => i.status)).toEqual([...Array<string>(N).fill("succeeded"), "failed"]);
  expect(page.items[N]!.error?.reason).toBe("InputNotFound");
  const third = page.items[2]!;
  expect(third.input).toBe(uris[2]);
  expect(third.filename).toBeNull(); // stored without a name
  const meta = await sharp(Buffer.from(await (await fetch(third.output!.url!)).arrayBuffer())).metadata();
  expect([meta.width, meta.height]).toEqual([12, 6]);

  const manifest = await api.fetch(`${api.url}/v1/jobs/${id}/manifest`);
  expect(manifest.status).toBe(200);
  const lines = (await manifest.text()).trim().split("\n").map((l) => JSON.parse(l) as { index: number; phase: string });
  expect(lines.map((l) => [l.index, l.phase])).toEqual(uris.map((_, i) => [i, i < N ? "Succeeded" : "Failed"]));

  // The usage report counts the batch as one job with its items' run seconds.
  const itemSeconds = (lines as { output?: { usage?: { runSeconds: number } } }[]).reduce((sum, l) => sum + (l.output?.usage?.runSeconds ?? 0), 0);
  expect(itemSeconds).toBeGreaterThan(0);
  const usage = (await (await api.fetch(`${api.url}/v1/usage`)).json()) as { items: { jobs_succeeded: number; run_seconds: number }[] };
  expect(usage.items).toHaveLength(1);
  expect(usage.items[0]!.jobs_succeeded).toBe(1);
  expect(usage.items[0]!.run_seconds).toBeCloseTo(itemSeconds, 2);
}, 180_000);

it("lists a multipart batch's items under the names their files were sent with", async () => {
  const form = new FormData();
  form.set("model", "resize-x2");
  for (const [i, name] of ["harbour.png", "Été.png"].entries()) {
    const png = await sharp({ create: { width: 5 + i, height: 4, channels: 3, background: "#996633" } }).png().toBuffer();
    form.append("image", new Blob([new Uint8Array(png)], { type: "image/png" }), name);
  }
  const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const page = await eventually(async () => {
    const p = (await (await api.fetch(`${api.url}/v1/jobs/${id}/items`)).json()) as BatchItemListView;
    return p.items.length === 2 && p.items.every((i) => i.status === "succeeded") && p;
  }, "the items to succeed", 120_000);
  expect(page.items.map((i) => i.filename)).toEqual(["harbour.png", "Été.png"]);
  expect(page.items.every((i) => i.input.startsWith(`upload:uploads/${api.namespace}/`))).toBe(true);
}, 180_000);
