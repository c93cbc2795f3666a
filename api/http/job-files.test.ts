import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { PixelmillClient } from "../../client/index.js";
import { startApi, eventually, type ApiFixture } from "../../test/support/api-fixture.js";
import { runToSuccess } from "../../test/support/job-status.js";
import type { JobView } from "./job-presenter.js";

let api: ApiFixture;
let png: Buffer;
beforeAll(async () => {
  api = await startApi("job-files", { maxUploadBytes: 3 * 1024 * 1024 });
  png = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#336699" } }).png().toBuffer();
});
afterAll(async () => api?.stop());

const viewOf = async (id: string, key = api.key): Promise<JobView> => (await (await fetch(`${api.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as JobView;

/** A multipart submit of `png` whose file part is named `filename`; the job's id. */
async function submit(filename: string): Promise<string> {
  const form = new FormData();
  form.set("model", "resize-x2");
  form.set("image", new Blob([png], { type: "image/png" }), filename);
  const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Makes job `id` succeed, as the operator would, with a WebP output in the store. */
async function succeed(id: string): Promise<Buffer> {
  const record = (await api.jobs.get(api.namespace, id))!;
  const webp = await sharp(png).webp().toBuffer();
  const put = await api.store.put(`outputs/${api.namespace}/${id}/1.webp`, webp, { contentType: "image/webp" });
  await runToSuccess(api, record.name, { uri: api.store.uri(put.key), contentType: "image/webp", width: 8, height: 8, bytes: put.bytes });
  await eventually(async () => (await viewOf(id)).status === "succeeded", "the job to succeed");
  return webp;
}

describe("GET /v1/me", () => {
  it("refuses a request without a valid key with 401", async () => {
    for (const headers of [{}, { authorization: "Bearer pm_test_nope" }]) {
      const res = await fetch(`${api.url}/v1/me`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
  });

  it("answers for a key of any scope, with its own tenant only", async () => {
    const reader = await api.newKey(["jobs:read"]);
    const res = await fetch(`${api.url}/v1/me`, { headers: { authorization: `Bearer ${reader.key}` } });
    expect(res.status).toBe(200);
    const platform = (await api.tenants.byNamespace(api.namespace))!;
    expect(await res.json()).toEqual({
      tenant: { id: platform.id, name: platform.name, namespace: api.namespace }, key: { id: reader.id, name: "test jobs:read" }, scopes: ["jobs:read"],
      limits: { max_upload_bytes: 3 * 1024 * 1024, max_form_images: 100 }, // MAX_UPLOAD_BYTES as configured, for the console's own checks
    });

    const other = await api.newTenant("me-other");
    const me = await new PixelmillClient({ baseUrl: api.url, apiKey: other.key }).me();
    expect(me.tenant).toMatchObject({ name: other.name, namespace: other.namespace });
    expect(me.tenant.id).not.toBe(platform.id);
    expect(me.scopes).toEqual(expect.arrayContaining(["jobs:read", "jobs:write"]));
  });
});

describe("input.filename", () => {
  it("keeps the multipart file's base name, without control characters, on the job and in the list", async () => {
    const id = await submit("/photos/évening\t cat.png");
    expect((await viewOf(id)).input).toEqual({ uri: expect.stringMatching(new RegExp(`^upload:uploads/${api.namespace}/`)) as string, filename: "évening cat.png" });
    const list = (await (await api.fetch(`${api.url}/v1/jobs?limit=100`)).json()) as { items: JobView[] };
    expect(list.items.find((j) => j.id === id)?.input.filename).toBe("évening cat.png");
    expect((await api.jobs.get(api.namespace, id))?.inputFilename).toBe("évening cat.png");
  });

  it("cuts a long name to 255 characters", async () => {
    const id = await submit(`${"a".repeat(300)}.png`);
    expect((await viewOf(id)).input.filename).toBe("a".repeat(255));
  });

  it("takes the filename given to POST /v1/uploads for the job naming the upload, and none for a batch", async () => {
    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const uri = await client.uploadFile(png, { contentType: "image/png", filename: "../holiday/beach.png" });
    const { id } = await client.submit({ uri }, { model: "resize-x2" });
    expect((await client.get(id)).input).toEqual({ uri, filename: "beach.png" });

    const batch = await client.submit(null, { model: "resize-x2", batch: { inputs: [uri] } });
    expect((await client.get(batch.id)).input).toEqual({ uri: null, filename: null });
  });

  it("keeps a multipart upload's name for a later JSON job naming the same upload (Run again)", async () => {
    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const first = await client.get(await submit("harbour.png"));
    const again = await client.submit({ uri: first.input.uri! }, { model: "resize-x2" });
    expect((await client.get(again.id)).input).toEqual({ uri: first.input.uri, filename: "harbour.png" });
  });

  it("is null when the client sent none (an https:// input)", async () => {
    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const { id } = await client.submit({ uri: "https://images.example.com/cat.png" }, { model: "resize-x2" });
    expect((await client.get(id)).input).toEqual({ uri: "https://images.example.com/cat.png", filename: null });
  });
});

describe("GET /v1/jobs/:id/output and /input", () => {
  it("answers 409 before the job succeeded, then streams the output named after the upload", async () => {
    const id = await submit("évening cat.png");
    const early = await api.fetch(`${api.url}/v1/jobs/${id}/output`);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ type: "https://pixelmill.io/problems/output-not-ready", job_status: "pending" });

    const webp = await succeed(id);
    const res = await api.fetch(`${api.url}/v1/jobs/${id}/output`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/webp");
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    // RFC 6266: an ISO-8859-1 fallback, and the UTF-8 name as filename*.
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="?vening cat.webp"; filename*=UTF-8''%C3%A9vening%20cat.webp`);
    expect(Buffer.from(await res.arrayBuffer()).equals(webp)).toBe(true);

    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const out = await client.output(id);
    expect(out).toMatchObject({ contentType: "image/webp", filename: "évening cat.webp" });
    expect(Buffer.from(out.bytes).equals(webp)).toBe(true);
    const input = await client.input(id);
    expect(input).toMatchObject({ contentType: "image/png", filename: "évening cat.png" });
    expect(Buffer.from(input.bytes).equals(png)).toBe(true);
  });

  it("names the output after the job id when the file's name is unknown", async () => {
    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const { id } = await client.submit(png, { model: "resize-x2", filename: "" });
    await succeed(id);
    expect((await client.output(id)).filename).toBe(`${id}.webp`);
  });

  it("answers 404 for another tenant's job, as GET /v1/jobs/:id does", async () => {
    const id = await submit("mine.png");
    await succeed(id);
    const other = await api.newTenant("files-other");
    for (const path of [`/v1/jobs/${id}`, `/v1/jobs/${id}/output`, `/v1/jobs/${id}/input`]) {
      const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${other.key}` } });
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    const noScope = await api.newKey(["models:read"]);
    expect((await fetch(`${api.url}/v1/jobs/${id}/output`, { headers: { authorization: `Bearer ${noScope.key}` } })).status).toBe(403);
  });

  it("answers 404 for an input that is not an upload", async () => {
    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const { id } = await client.submit({ uri: "https://images.example.com/cat.png" }, { model: "resize-x2" });
    const res = await api.fetch(`${api.url}/v1/jobs/${id}/input`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/not-found" });
  });
});
