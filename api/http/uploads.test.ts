import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
import { JobFailure } from "../../common/errors.js";
import { S3ObjectStore, UrlSigner } from "../../common/storage/index.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { testEnv } from "../../test/support/env.js";
import { InputFetcher } from "../../worker/input/input-fetcher.js";
import { decode } from "../../worker/inference/image-io.js";
import { uploadSchema, type UploadView } from "./schemas.js";

// Direct uploads (POST /v1/uploads) on the real parts: S3 (versitygw) takes the presigned form
// POST and enforces its policy; with a file store the API takes a signed PUT. A job then names
// the upload: URI, and the worker's own input code reads it.

const MAX_UPLOAD = 256 * 1024;
let png: Buffer;
let jpeg: Buffer;

beforeAll(async () => {
  png = await sharp({ create: { width: 6, height: 4, channels: 3, background: "#2060a0" } }).png().toBuffer();
  jpeg = await sharp({ create: { width: 6, height: 4, channels: 3, background: "#a06020" } }).jpeg().toBuffer();
});

const json = (key: string) => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });

async function createUpload(api: ApiFixture, body: unknown, key = api.key): Promise<Response> {
  return fetch(`${api.url}/v1/uploads`, { method: "POST", headers: json(key), body: JSON.stringify(body) });
}

async function newUpload(api: ApiFixture, body: unknown = { content_type: "image/png" }, key = api.key): Promise<UploadView> {
  const res = await createUpload(api, body, key);
  expect(res.status, await res.clone().text()).toBe(201);
  // The answer is what the OpenAPI document's Upload says it is.
  return uploadSchema.strict().parse(await res.json()).upload;
}

/** The browser's way: the policy's fields, then the file last. */
function postForm(upload: UploadView, bytes: Buffer, type = upload.content_type, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...upload.fields, ...fields })) form.append(k, v);
  form.append("file", new Blob([bytes], { type }), "image");
  return fetch(upload.url, { method: "POST", body: form });
}

function submit(api: ApiFixture, uri: string, key = api.key): Promise<Response> {
  return fetch(`${api.url}/v1/jobs`, { method: "POST", headers: json(key), body: JSON.stringify({ model: "resize-x2", input: { uri } }) });
}

async function problem(res: Response, status: number): Promise<{ type: string; detail: string }> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return JSON.parse(text) as { type: string; detail: string };
}

describe("with S3 storage", () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await startApi("api-uploads", { maxUploadBytes: MAX_UPLOAD });
  });
  afterAll(async () => api?.stop());

  const fetcher = () => new InputFetcher({ store: api.store, bucketStore: () => api.store, maxBytes: MAX_UPLOAD, timeoutMs: 10_000 });

  it("presigns a form POST under the tenant's uploads; the file goes to S3, a job names it and the worker reads it", async () => {
    const upload = await newUpload(api);
    expect(upload.uri).toMatch(new RegExp(`^upload:uploads/${api.namespace}/[0-9a-f-]{36}\\.png$`));
    expect(upload.uri).toBe(`upload:${upload.key}`);
    expect(upload).toMatchObject({ method: "POST", content_type: "image/png", max_bytes: MAX_UPLOAD });
    expect(new URL(upload.url).origin).toBe(new URL(testEnv().s3.endpoint).origin);
    expect(new Date(upload.expires_at).getTime()).toBeGreaterThan(Date.now());

    // Named before the file is there: refused now, not failed later.
    const early = await problem(await submit(api, upload.uri), 422);
    expect(early.detail).toMatch(/no upload at upload:uploads\//);

    const sent = await postForm(upload, png);
    expect(sent.status, await sent.clone().text()).toBe(204);
    expect(await api.store.head(upload.key)).toMatchObject({ bytes: png.length, contentType: "image/png" });

    const res = await submit(api, upload.uri);
    expect(res.status, await res.clone().text()).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const jobs = (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL })) as { items: ImageJob[] };
    expect(jobs.items.find((j) => j.metadata.uid === id)?.spec.input).toEqual({ uri: upload.uri });
    expect(await api.jobs.get(api.namespace, id)).toMatchObject({ inputUri: upload.uri });

    const input = await fetcher().fetch({ uri: upload.uri, namespace: api.namespace });
    expect(input.equals(png)).toBe(true);
    expect(await decode(input, 1_000_000)).toMatchObject({ width: 6, height: 4, channels: 3 });
  });

  it("signs the form for S3_PUBLIC_ENDPOINT when set", async () => {
    const { s3 } = testEnv();
    const pub = new S3ObjectStore({
      bucket: s3.bucket, prefix: `${api.prefix}/`, endpoint: s3.endpoint, publicEndpoint: "https://s3.pixelmill.example", region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const post = await pub.presignPost("uploads/x/1.png", { contentType: "image/png", maxBytes: 10, expiresInSeconds: 60 });
    pub.close();
    expect(post.url).toBe(`https://s3.pixelmill.example/${s3.bucket}`);
    const policy = JSON.parse(Buffer.from(post.fields.Policy!, "base64").toString()) as { conditions: unknown[] };
    expect(policy.conditions).toEqual(expect.arrayContaining([["content-length-range", 1, 10], { "Content-Type": "image/png" }, { key: `${api.prefix}/uploads/x/1.png` }]));
  });

  it("S3 refuses a file over the declared size, an empty one, and one sent as another type", async () => {
    const upload = await newUpload(api, { content_type: "image/png", bytes: png.length });
    expect(upload.max_bytes).toBe(png.length);
    const over = await postForm(upload, Buffer.concat([png, Buffer.alloc(1)]));
    expect(over.status, await over.clone().text()).toBe(400);
    expect(await over.text()).toMatch(/EntityTooLarge/);
    const empty = await postForm(upload, Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(await empty.text()).toMatch(/EntityTooSmall/);
    // The type and the key are the policy's too (tested on an upload with room for the JPEG).
    const roomy = await newUpload(api);
    const otherType = await postForm(roomy, jpeg, "image/jpeg", { "Content-Type": "image/jpeg" });
    expect(otherType.status).toBe(403);
    expect(await otherType.text()).toMatch(/Policy Condition failed: .*content-type/);
    const otherKey = await postForm(roomy, png, "image/png", { key: roomy.key.replace(/\.png$/, "-2.png") });
    expect(otherKey.status).toBe(403);
    expect(await otherKey.text()).toMatch(/Policy Condition failed: .*key/);
    expect(await api.store.head(roomy.key)).toBeUndefined();
    expect(await api.store.head(upload.key)).toBeUndefined();
    // The bound holds to the byte.
    expect((await postForm(upload, png)).status).toBe(204);
  });

  it("a text file sent as image/png reaches S3, and the job's input fails as InvalidImage before any decoding", async () => {
    const upload = await newUpload(api);
    const text = Buffer.from("this is not an image, only text that says it is one\n");
    expect((await postForm(upload, text)).status).toBe(204);
    expect((await submit(api, upload.uri)).status).toBe(202);
    const input = await fetcher().fetch({ uri: upload.uri, namespace: api.namespace });
    const failure = await decode(input, 1_000_000).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(JobFailure);
    expect(failure).toMatchObject({ reason: "InvalidImage" });
  });

  it("refuses a type that is not an image we read, a size over MAX_UPLOAD_BYTES and a body that is not JSON", async () => {
    const notImage = await problem(await createUpload(api, { content_type: "text/plain" }), 400);
    expect(notImage.type).toMatch(/invalid-request$/);
    await problem(await createUpload(api, { content_type: "image/svg+xml" }), 400);
    await problem(await createUpload(api, { content_type: "image/png", bytes: MAX_UPLOAD + 1 }), 413);
    await problem(await createUpload(api, { content_type: "image/png", bytes: 0 }), 400);
    await problem(await createUpload(api, { content_type: "image/png", extra: 1 }), 400);
    const form = new FormData();
    form.append("content_type", "image/png");
    await problem(await fetch(`${api.url}/v1/uploads`, { method: "POST", headers: { authorization: `Bearer ${api.key}` }, body: form }), 415);
  });

  it("needs a key with jobs:write", async () => {
    const reader = await api.newKey(["jobs:read"]);
    expect((await problem(await createUpload(api, { content_type: "image/png" }, reader.key), 403)).detail).toMatch(/jobs:write/);
    await problem(await fetch(`${api.url}/v1/uploads`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }), 401);
  });

  it("another tenant cannot name your upload, and its own uploads are under its own namespace", async () => {
    const upload = await newUpload(api);
    expect((await postForm(upload, png)).status).toBe(204);
    const other = await api.newTenant("uploads-other");
    const refused = await problem(await submit(api, upload.uri, other.key), 422);
    expect(refused.detail).toMatch(new RegExp(`is not an upload of namespace ${other.namespace}`));
    // Nor by the same object's s3:// URI.
    expect((await submit(api, api.store.uri(upload.key), other.key)).status).toBe(422);
    const theirs = await newUpload(api, { content_type: "image/jpeg" }, other.key);
    expect(theirs.key).toMatch(new RegExp(`^uploads/${other.namespace}/[0-9a-f-]{36}\\.jpg$`));
  });

  it("counts each upload's bound against the tenant's bytes of the day when it is handed out", async () => {
    const tenant = await api.newTenant("uploads-cap");
    const patched = await fetch(`${api.url}/v1/tenants/${tenant.name}`, {
      method: "PATCH", headers: json(api.adminKey), body: JSON.stringify({ limits: { max_upload_bytes_per_day: 3000 } }),
    });
    expect(patched.status).toBe(200);
    await newUpload(api, { content_type: "image/png", bytes: 2000 }, tenant.key);
    const over = await problem(await createUpload(api, { content_type: "image/png", bytes: 1001 }, tenant.key), 429);
    expect(over.detail).toMatch(/may upload 3000 bytes a day/);
    // Left out, the bound is MAX_UPLOAD_BYTES: far over what is left.
    await problem(await createUpload(api, { content_type: "image/png" }, tenant.key), 429);
    await newUpload(api, { content_type: "image/png", bytes: 1000 }, tenant.key);
  });
});

describe("with a file store", () => {
  const secret = "a-test-secret-for-direct-uploads-0123456789";
  let api: ApiFixture;
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "pixelmill-uploads-"));
    api = await startApi("api-uploads-file", { maxUploadBytes: MAX_UPLOAD, fileStore: { root, secret } });
  });
  afterAll(async () => {
    await api?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const put = (url: string, body: Buffer, type: string | null = "image/png") =>
    fetch(url, { method: "PUT", body, headers: type ? { "content-type": type } : {} });

  it("hands out a signed PUT to the API, which stores the image where a job then names it", async () => {
    const upload = await newUpload(api);
    expect(upload.method).toBe("PUT");
    expect(upload.fields).toEqual({});
    const url = new URL(upload.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${api.url}/v1/uploads/${upload.key}`);
    expect(url.searchParams.get("max")).toBe(String(MAX_UPLOAD));

    const stored = await put(upload.url, png);
    expect(stored.status, await stored.clone().text()).toBe(200);
    expect(await stored.json()).toEqual({ key: upload.key, content_type: "image/png", bytes: png.length });
    const res = await submit(api, upload.uri);
    expect(res.status, await res.clone().text()).toBe(202);
    const input = await new InputFetcher({ store: api.store, bucketStore: () => api.store, maxBytes: MAX_UPLOAD, timeoutMs: 10_000 }).fetch({ uri: upload.uri, namespace: api.namespace });
    expect(input.equals(png)).toBe(true);
  });

  it("refuses a changed, expired, foreign or other-purpose signature with 403", async () => {
    const upload = await newUpload(api, { content_type: "image/png", bytes: 1000 });
    const good = new URL(upload.url);
    const bigger = new URL(good);
    bigger.searchParams.set("max", String(MAX_UPLOAD));
    const later = new URL(good);
    later.searchParams.set("expires", String(Number(good.searchParams.get("expires")) + 3600));
    const otherKey = `${api.url}/v1/uploads/${upload.key.replace(/\.png$/, "-x.png")}${good.search}`;
    // The /v1/files signature of the same key (a GET link) grants no PUT.
    const getLink = new URL(await api.store.presignGet(upload.key, 60));
    const asPut = `${good.origin}${good.pathname}${getLink.search}&max=1000`;
    const expired = new UrlSigner({ baseUrl: `${api.url}/v1/files`, secret, now: () => Date.now() - 3_600_000 })
      .derive("PUT /v1/uploads max=1000", `${api.url}/v1/uploads`).sign(upload.key, 60);
    for (const url of [bigger.href, later.href, otherKey, asPut, `${expired}&max=1000`, `${good.origin}${good.pathname}`]) {
      await problem(await put(url, png), 403);
    }
    expect(await api.store.head(upload.key)).toBeUndefined();
    expect((await put(upload.url, png)).status).toBe(200);
  });

  it("refuses a body over the bound, one that is not an image of the declared type, and another Content-Type", async () => {
    const bounded = await newUpload(api, { content_type: "image/png", bytes: png.length });
    expect((await problem(await put(bounded.url, Buffer.concat([png, Buffer.alloc(10)])), 413)).detail).toMatch(new RegExp(`larger than ${png.length} bytes`));
    expect(await api.store.head(bounded.key)).toBeUndefined();
    expect((await put(bounded.url, png)).status).toBe(200);
    const upload = await newUpload(api);
    expect((await problem(await put(upload.url, jpeg, null), 415)).detail).toMatch(/image\/jpeg, not the image\/png it was declared as/);
    await problem(await put(upload.url, Buffer.from("plain text, not a picture")), 415);
    await problem(await put(upload.url, png, "image/jpeg"), 415);
    expect(await api.store.head(upload.key)).toBeUndefined();
    expect((await put(upload.url, png, "application/octet-stream")).status).toBe(200);
  });
});
