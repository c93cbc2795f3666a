import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { testEnv } from "../../test/support/env.js";
import { patchStatus } from "../../test/support/job-status.js";
import { readSse, type SseMessage } from "../../test/support/sse.js";
import type { JobView } from "./schemas.js";

// Batch submits through POST /v1/jobs on the real apiserver, Postgres and store (docs/batch.md).

let api: ApiFixture;
let bucket: string;
beforeAll(async () => {
  api = await startApi("api-batch-submit");
  bucket = testEnv().s3.bucket;
});
afterAll(async () => api?.stop());

const postJson = (body: unknown, key?: string) => api.fetch(`${api.url}/v1/jobs`, {
  method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
});
const inputs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `s3://${bucket}/inputs/cat-${from + i}.png`);
const imageJob = async (name: string) =>
  (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name })) as ImageJob;

async function problemOf(res: Response, status: number, type: string): Promise<{ detail: string; errors?: Array<{ path: unknown[]; message: string }> }> {
  const body = (await res.json()) as { type: string; detail: string; errors?: Array<{ path: unknown[]; message: string }> };
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(body.type).toBe(`https://pixelmill.io/problems/${type}`);
  return body;
}

describe("POST /v1/jobs with a batch", () => {
  it("creates one ImageJob with spec.batch for a list, and GET shows its counts and links", async () => {
    const res = await postJson({ model: "resize-x2", batch: { inputs: inputs(3) }, params: { strength: 0.25 }, output: { format: "webp" } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const view = (await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView;
    expect(view.batch).toEqual({
      total: 3, succeeded: 0, failed: 0, running: 0, canceled: 0, items_url: `${api.url}/v1/jobs/${id}/items`, manifest_url: `${api.url}/v1/jobs/${id}/manifest`,
    });
    const name = (await api.jobs.get(api.namespace, id))!.name;
    const job = await imageJob(name);
    expect(job.spec.batch).toEqual({ inputs: inputs(3) });
    expect(job.spec.input).toBeUndefined();
    expect(job.spec).toMatchObject({ model: "resize-x2", params: { strength: 0.25 }, output: { format: "webp" } });
    // A single job's view says batch: null.
    const single = (await (await postJson({ model: "resize-x2", input: { uri: inputs(1)[0] } })).json()) as { id: string };
    expect(((await (await api.fetch(`${api.url}/v1/jobs/${single.id}`)).json()) as JobView).batch).toBeNull();
  });

  it("takes a prefix of the namespace's uploads with a glob; its total is unknown until the operator lists it", async () => {
    const prefix = `upload:uploads/${api.namespace}/photos/`;
    const res = await postJson({ model: "resize-x2", batch: { prefix, glob: "**/*.png" } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const record = (await api.jobs.get(api.namespace, id))!;
    expect((await imageJob(record.name)).spec.batch).toEqual({ prefix, glob: "**/*.png" });
    expect(((await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView).batch).toMatchObject({ total: null, succeeded: 0 });
    // The operator's expansion, then its periodic counts, write status.batch; the mirror carries them to the view and its events.
    const events = await api.fetch(`${api.url}/v1/jobs/${id}/events`);
    const statuses = readSse(events);
    const first = (await statuses.next()).value as SseMessage;
    expect(JSON.parse(first.data!)).toMatchObject({ status: "pending", batch: { total: null } });
    await patchStatus(api, record.name, { phase: "Queued", queuedAt: new Date().toISOString(), batch: { total: 12, succeeded: 0, failed: 0, running: 0 } });
    await eventually(async () => ((await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView).batch?.total === 12, "the expanded total");
    await patchStatus(api, record.name, { phase: "Running", startedAt: new Date().toISOString(), batch: { total: 12, succeeded: 4, failed: 1, running: 3 } });
    const seen: unknown[] = [];
    for await (const m of statuses) {
      if (m.event !== "status") continue;
      const view = JSON.parse(m.data!) as JobView;
      seen.push(view.batch && [view.status, view.batch.total, view.batch.succeeded, view.batch.failed, view.batch.running]);
      if (view.status === "running") break;
    }
    expect(seen).toEqual([["queued", 12, 0, 0, 0], ["running", 12, 4, 1, 3]]);
  });

  it("refuses an empty list, more than 10,000 items, a bad URI (naming its index), and input with batch", async () => {
    const empty = await problemOf(await postJson({ model: "resize-x2", batch: { inputs: [] } }), 400, "invalid-request");
    expect(empty.errors?.[0]?.path).toEqual(["batch", "inputs"]);
    const many = await problemOf(await postJson({ model: "resize-x2", batch: { inputs: Array.from({ length: 10_001 }, (_, i) => `upload:uploads/x/${i}.png`) } }), 400, "invalid-request");
    expect(many.errors?.[0]?.message).toMatch(/at most 10000/);
    const list = inputs(10);
    list[7] = "ftp://example.com/cat.png";
    const bad = await problemOf(await postJson({ model: "resize-x2", batch: { inputs: list } }), 400, "invalid-request");
    expect(bad.errors).toEqual([{ path: ["batch", "inputs", 7], code: "custom", message: "item 7: must be an upload:, s3:// or https:// URI" }]);
    list[7] = "s3://Not_A_Bucket/cat.png";
    expect((await problemOf(await postJson({ model: "resize-x2", batch: { inputs: list } }), 400, "invalid-request")).errors?.[0]?.path).toEqual(["batch", "inputs", 7]);
    const both = await problemOf(await postJson({ model: "resize-x2", input: { uri: list[0] }, batch: { inputs: inputs(2) } }), 400, "invalid-request");
    expect(both.errors?.[0]?.message).toMatch(/mutually exclusive/);
    await problemOf(await postJson({ model: "resize-x2", batch: { inputs: inputs(2), prefix: `upload:uploads/${api.namespace}/` } }), 400, "invalid-request");
    await problemOf(await postJson({ model: "resize-x2", batch: { inputs: inputs(2), glob: "*.png" } }), 400, "invalid-request");
  });

  it("refuses items and prefixes a single job could not name: another tenant's upload, the store's other areas, an unlisted bucket", async () => {
    const other = await api.newTenant("batch-other");
    const theirs = [...inputs(2), `upload:uploads/${other.namespace}/cat.png`];
    const refused = await problemOf(await postJson({ model: "resize-x2", batch: { inputs: theirs } }), 422, "invalid-job");
    expect(refused.detail).toMatch(new RegExp(`^batch item 2 \\(upload:uploads/${other.namespace}/cat.png\\): .*not an upload of namespace ${api.namespace}`));
    // The other tenant is refused our uploads the same way, as a prefix too.
    const prefix = `upload:uploads/${api.namespace}/`;
    expect((await problemOf(await postJson({ model: "resize-x2", batch: { prefix } }, other.key), 422, "invalid-job")).detail).toMatch(/^batch prefix/);
    const storeRoot = api.store.uri("k").slice(0, -1);
    for (const p of [storeRoot, `${storeRoot}uploads/`, `${storeRoot}outputs/${other.namespace}/`]) {
      expect((await problemOf(await postJson({ model: "resize-x2", batch: { prefix: p } }), 422, "invalid-job")).detail, p).toMatch(/platform's storage/);
    }
    expect((await postJson({ model: "resize-x2", batch: { prefix: `${storeRoot}uploads/${api.namespace}/` } })).status).toBe(202);
    const unlisted = await problemOf(await postJson({ model: "resize-x2", batch: { inputs: [...inputs(3), "s3://some-other-bucket/cat.png"] } }), 422, "invalid-job");
    expect(unlisted.detail).toMatch(/^batch item 3 .*INPUT_BUCKETS/);
    const local = await problemOf(await postJson({ model: "resize-x2", batch: { inputs: ["https://127.0.0.1/cat.png"] } }), 422, "invalid-job");
    expect(local.detail).toMatch(/^batch item 0/);
  });

  it("refuses a `batch` field in a multipart submit, saying how a form makes a batch", async () => {
    const real = new FormData();
    real.append("model", "resize-x2");
    real.append("batch", "x");
    const { default: sharp } = await import("sharp");
    real.append("image", new Blob([await sharp({ create: { width: 2, height: 2, channels: 3, background: "#000" } }).png().toBuffer()], { type: "image/png" }), "cat.png");
    const refused = await problemOf(await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: real }), 400, "invalid-request");
    expect(refused.detail).toMatch(/multipart submit makes a batch of its image files \(several `image` parts\); for inputs already stored, submit application\/json/);
  });
});

describe("the active-jobs cap counts batch items", () => {
  let capped: ApiFixture;
  beforeAll(async () => {
    capped = await startApi("api-batch-cap", { limits: { maxActiveJobs: 5 } });
  });
  afterAll(async () => capped?.stop());

  const submit = (body: unknown) => capped.fetch(`${capped.url}/v1/jobs`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

  it("refuses a batch over the cap, takes one at it, then refuses even one more job until items finish", async () => {
    const over = await problemOf(await submit({ model: "resize-x2", batch: { inputs: inputs(6) } }), 429, "tenant-cap");
    expect(over.detail).toMatch(/this batch would add 6/);
    const at = await submit({ model: "resize-x2", batch: { inputs: inputs(5) } });
    expect(at.status).toBe(202);
    const { id } = (await at.json()) as { id: string };
    await problemOf(await submit({ model: "resize-x2", input: { uri: inputs(1)[0] } }), 429, "tenant-cap");
    // Three items finished (the operator's periodic counts): two are still active, so three more jobs fit.
    const name = (await capped.jobs.get(capped.namespace, id))!.name;
    await patchStatus(capped, name, { phase: "Running", startedAt: new Date().toISOString(), batch: { total: 5, succeeded: 2, failed: 1, running: 2 } });
    await eventually(async () => (await capped.jobs.get(capped.namespace, id))?.batch?.succeeded === 2, "the counts mirrored");
    expect((await submit({ model: "resize-x2", batch: { inputs: inputs(3) } })).status).toBe(202);
    await problemOf(await submit({ model: "resize-x2", input: { uri: inputs(1)[0] } }), 429, "tenant-cap");
  });
});
