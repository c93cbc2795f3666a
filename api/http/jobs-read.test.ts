import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import { startApi, eventually, type ApiFixture } from "../../test/support/api-fixture.js";
import { patchStatus, runToSuccess } from "../../test/support/job-status.js";
import type { JobView } from "./job-presenter.js";

let api: ApiFixture;
beforeAll(async () => {
  api = await startApi("api-read");
});
afterAll(async () => api?.stop());

const getJson = async <T>(path: string): Promise<{ status: number; body: T; type: string | null }> => {
  const res = await api.fetch(`${api.url}${path}`);
  return { status: res.status, body: (await res.json()) as T, type: res.headers.get("content-type") };
};

const viewOf = (uid: string) => getJson<JobView>(`/v1/jobs/${uid}`).then((r) => r.body);

describe("GET /v1/jobs/:id", () => {
  it("answers 404 problem+json for an unknown or malformed id", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      const res = await getJson<Record<string, unknown>>(`/v1/jobs/${id}`);
      expect(res.status).toBe(404);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: "https://pixelmill.io/problems/not-found", status: 404, instance: `/v1/jobs/${id}` });
    }
  });

  it("follows the status the operator writes, and signs a URL that downloads the output", async () => {
    const job = await api.createJob("followed");
    const uid = job.metadata.uid!;
    await eventually(async () => (await api.fetch(`${api.url}/v1/jobs/${uid}`)).ok, "the mirror to record the job");
    const output = await sharp({ create: { width: 8, height: 6, channels: 3, background: "#00ff00" } }).png().toBuffer();
    const put = await api.store.put(`outputs/${uid}/1.png`, output, { contentType: "image/png" });

    await patchStatus(api, "followed", { phase: "Queued", attempts: 0, queuedAt: "2026-05-01T10:00:00Z" });
    await eventually(async () => (await viewOf(uid)).status === "queued", "queued");
    await patchStatus(api, "followed", { phase: "Running", attempts: 1, startedAt: "2026-05-01T10:00:05Z" });
    await eventually(async () => (await viewOf(uid)).status === "running", "running");
    await patchStatus(api, "followed", {
      phase: "Succeeded", finishedAt: "2026-05-01T10:00:09Z",
      output: { uri: api.store.uri(put.key), contentType: "image/png", width: 8, height: 6, bytes: put.bytes, usage: { runSeconds: 3.5, gpuSeconds: 7, gpus: 2 } },
    });
    const view = await eventually(async () => {
      const v = await viewOf(uid);
      return v.status === "succeeded" && v;
    }, "succeeded");
    expect(view).toMatchObject({
      id: uid, model: "resize-x2", attempts: 1, error: null,
      queued_at: "2026-05-01T10:00:00.000Z", started_at: "2026-05-01T10:00:05.000Z", finished_at: "2026-05-01T10:00:09.000Z",
      output: { content_type: "image/png", width: 8, height: 6, bytes: put.bytes },
      input: { uri: "s3://pixelmill/inputs/cat.png", filename: null },
      params: null,
      imagejob: { namespace: api.namespace, name: "followed" },
      usage: { run_seconds: 3.5, gpu_seconds: 7 },
      urls: { self: `${api.url}/v1/jobs/${uid}`, events: `${api.url}/v1/jobs/${uid}/events` },
    });
    expect(Date.parse(view.output!.url_expires_at!)).toBeGreaterThan(Date.now() + 500_000);
    const download = await fetch(view.output!.url!);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(output)).toBe(true);
  });

  it("shows the failure reason and message of a failed job", async () => {
    const uid = (await api.createJob("failing")).metadata.uid!;
    await patchStatus(api, "failing", { phase: "Failed", attempts: 3, reason: "InvalidImage", message: "cannot decode the input" });
    const view = await eventually(async () => {
      const v = await viewOf(uid).catch(() => undefined);
      return v?.status === "failed" && v;
    }, "failed");
    expect(view).toMatchObject({ attempts: 3, error: { reason: "InvalidImage", message: "cannot decode the input" }, output: null });
  });

  it("keeps a deleted ImageJob that had finished with its last status", async () => {
    const uid = (await api.createJob("short-lived")).metadata.uid!;
    await patchStatus(api, "short-lived", { phase: "Failed", attempts: 1, reason: "InvalidImage", message: "cannot decode the input" });
    await eventually(async () => (await viewOf(uid).catch(() => undefined))?.status === "failed", "failed");
    await api.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name: "short-lived" });
    await eventually(async () => (await api.jobs.get(api.namespace, uid))?.deletedAt, "the mirror to mark it deleted");
    const res = await getJson<JobView>(`/v1/jobs/${uid}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: uid, status: "failed", attempts: 1, error: { reason: "InvalidImage" } });
  });

  it("shows an ImageJob deleted before it finished (kubectl delete) as canceled", async () => {
    const uid = (await api.createJob("deleted-running")).metadata.uid!;
    await patchStatus(api, "deleted-running", { phase: "Running", attempts: 1 });
    await eventually(async () => (await viewOf(uid).catch(() => undefined))?.status === "running", "running");
    await api.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name: "deleted-running" });
    await eventually(async () => (await api.jobs.get(api.namespace, uid))?.deletedAt, "the mirror to mark it deleted");
    const res = await getJson<JobView>(`/v1/jobs/${uid}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: uid, status: "canceled", attempts: 1, error: { reason: "Canceled", message: "deleted before it finished" } });
    expect(res.body.finished_at).not.toBeNull();
  });
});

describe("GET /v1/jobs", () => {
  it("lists ImageJobs made with the Kubernetes API, filtered by model, a page at a time, newest first", async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push((await api.createJob(`paged-${i}`, { model: "paging-model" })).metadata.uid!);
    await api.createJob("other-model", { model: "another-model" });
    await eventually(async () => (await getJson<{ items: unknown[] }>("/v1/jobs?model=paging-model&limit=100")).body.items.length === 5, "the mirror");

    const seen: JobView[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/v1/jobs?model=paging-model&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await getJson<{ items: JobView[]; next_cursor: string | null }>(query);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items);
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((j) => j.id).sort()).toEqual([...made].sort());
    expect(seen.every((j) => j.model === "paging-model")).toBe(true);
    const order = [...seen].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
    expect(seen.map((j) => j.id)).toEqual(order.map((j) => j.id));
  });

  it("filters by status", async () => {
    const uid = (await api.createJob("queued-one", { model: "status-model" })).metadata.uid!;
    await api.createJob("pending-one", { model: "status-model" });
    await patchStatus(api, "queued-one", { phase: "Queued" });
    const page = await eventually(async () => {
      const r = await getJson<{ items: JobView[] }>("/v1/jobs?model=status-model&status=queued");
      return r.body.items.length === 1 && r.body;
    }, "the queued job");
    expect(page.items[0]!.id).toBe(uid);
  });

  it("filters by creation time: created_after inclusive, created_before exclusive", async () => {
    const uids = [];
    for (const name of ["dated-0", "dated-1", "dated-2"]) uids.push((await api.createJob(name, { model: "dated-model", params: { strength: 0.5 } })).metadata.uid!);
    const all = await eventually(async () => {
      const r = await getJson<{ items: JobView[] }>("/v1/jobs?model=dated-model");
      return r.body.items.length === 3 && r.body.items;
    }, "the mirror");
    expect(all[0]!.params).toEqual({ strength: 0.5 });
    const times = [...new Set(all.map((j) => j.created_at))].sort();
    const newest = times.at(-1)!;
    const q = (params: Record<string, string>) => getJson<{ items: JobView[] }>(`/v1/jobs?${new URLSearchParams({ model: "dated-model", ...params }).toString()}`);
    const from = await q({ created_after: newest });
    expect(from.status).toBe(200);
    expect(from.body.items.map((j) => j.id).sort()).toEqual(all.filter((j) => j.created_at === newest).map((j) => j.id).sort());
    expect((await q({ created_before: newest })).body.items.map((j) => j.id).sort()).toEqual(all.filter((j) => j.created_at < newest).map((j) => j.id).sort());
    // An offset names the same instant.
    const shifted = new Date(Date.parse(newest) + 3600_000).toISOString().replace("Z", "+01:00");
    expect((await q({ created_after: shifted })).body.items).toHaveLength(from.body.items.length);
    expect((await q({ created_after: "2999-01-01T00:00:00Z" })).body.items).toEqual([]);
  });

  it("refuses bad query parameters with 400", async () => {
    for (const q of ["limit=0", "limit=101", "status=done", "cursor=bm9wZQ", "created_after=yesterday", "created_before=2026-01-01"]) {
      const res = await getJson<{ type: string }>(`/v1/jobs?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.type).toBe("https://pixelmill.io/problems/invalid-request");
    }
  });

  it("refuses a model that is no model name (a NUL byte, say) with 400 before any query", async () => {
    for (const q of ["model=%00", "model=a%00b", "model=Bad_Name", "model=", `model=${"x".repeat(64)}`, "model=a&model=b"]) {
      const res = await getJson<{ type: string; errors?: { path: string[] }[] }>(`/v1/jobs?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.type, q).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toBe("https://pixelmill.io/problems/invalid-request");
      expect([...new Set(res.body.errors?.map((e) => e.path[0]))], q).toEqual(["model"]);
    }
    expect((await getJson("/v1/jobs?model=resize-x2")).status).toBe(200);
  });
});

it("describes an output outside the configured store, with no URL", async () => {
  const uid = (await api.createJob("helper")).metadata.uid!;
  await runToSuccess(api, "helper", { uri: "s3://elsewhere/x.png", contentType: "image/png" });
  const view = await eventually(async () => {
    const v = await viewOf(uid).catch(() => undefined);
    return v?.status === "succeeded" && v;
  }, "succeeded");
  expect(view.output).toMatchObject({ content_type: "image/png", url: null, url_expires_at: null });
});
