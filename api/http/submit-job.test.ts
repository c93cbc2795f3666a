import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobList } from "../../common/crd-types.js";
import { readAll } from "../../common/storage/index.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";

const MAX_UPLOAD = 16 * 1024;
let api: ApiFixture;
let png: Buffer;

beforeAll(async () => {
  api = await startApi("api-submit", { maxUploadBytes: MAX_UPLOAD });
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#c04020" } }).png().toBuffer();
});
afterAll(async () => api?.stop());

function form(fields: Record<string, string>, file?: { bytes: Buffer; name?: string; type?: string }): FormData {
  const body = new FormData();
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  if (file) body.append("image", new Blob([file.bytes], { type: file.type ?? "image/png" }), file.name ?? "cat.png");
  return body;
}

const post = (body: FormData | string, type?: string) =>
  fetch(`${api.url}/v1/jobs`, { method: "POST", body, headers: type ? { "content-type": type } : {} });

async function imageJobs(): Promise<ImageJob[]> {
  const list = (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL })) as ImageJobList;
  return list.items;
}

async function expectProblem(res: Response, status: number, type: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `https://pixelmill.io/problems/${type}`, status, instance: "/v1/jobs" });
  expect(typeof body.title).toBe("string");
  expect(typeof body.detail).toBe("string");
  return body;
}

describe("POST /v1/jobs (multipart)", () => {
  it("streams the image into the store and creates the ImageJob: 202 with Location", async () => {
    const res = await post(form({ model: "upscale-x2", params: '{"strength":0.25}', output_format: "webp" }, { bytes: png }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; model: string; created_at: string; urls: { self: string; events: string } };
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(body.created_at) - Date.now())).toBeLessThan(60_000);
    expect(body).toEqual({
      id: body.id, status: "pending", model: "upscale-x2", created_at: body.created_at,
      urls: { self: `${api.url}/v1/jobs/${body.id}`, events: `${api.url}/v1/jobs/${body.id}/events` },
    });
    expect(res.headers.get("location")).toBe(`/v1/jobs/${body.id}`);

    const job = (await imageJobs()).find((j) => j.metadata.uid === body.id)!;
    expect(job.metadata.name).toMatch(/^job-/);
    expect(job.metadata.labels).toMatchObject({ "pixelmill.io/model": "upscale-x2", "app.kubernetes.io/managed-by": "pixelmill-api" });
    expect(job.spec).toMatchObject({ model: "upscale-x2", params: { strength: 0.25 }, output: { format: "webp" } });
    const key = job.spec.input.uri.replace(/^upload:/, "");
    expect(job.spec.input.uri).toMatch(new RegExp(`^upload:uploads/${api.namespace}/[0-9a-f-]{36}\\.png$`));
    const stored = await api.store.get(key);
    expect(stored.contentType).toBe("image/png");
    expect((await readAll(stored.body)).equals(png)).toBe(true);

    // Recorded at once: a GET right after the answer finds the job.
    const got = await fetch(`${api.url}/v1/jobs/${body.id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ id: body.id, status: "pending", model: "upscale-x2", attempts: 0, output: null, error: null });
  });

  it("refuses a file that is no image with 415 and keeps nothing", async () => {
    const before = await api.listKeys();
    const res = await post(form({ model: "upscale-x2" }, { bytes: Buffer.from("hello, I am text\n".repeat(10)), name: "cat.png" }));
    await expectProblem(res, 415, "unsupported-media-type");
    expect(await api.listKeys()).toEqual(before);
  });

  it("refuses an unknown model with 422, creates no ImageJob and deletes the upload", async () => {
    const [jobsBefore, keysBefore] = [await imageJobs(), await api.listKeys()];
    const res = await post(form({ model: "no-such-model" }, { bytes: png }));
    const body = await expectProblem(res, 422, "unknown-model");
    expect(body.detail).toContain("no-such-model");
    expect((await imageJobs()).length).toBe(jobsBefore.length);
    expect(await api.listKeys()).toEqual(keysBefore);
  });

  it.each([
    ["just over the limit", MAX_UPLOAD + 1],
    ["many times the limit", MAX_UPLOAD * 40],
  ])("refuses an image %s with 413 and deletes what was written", async (_, size) => {
    const keysBefore = await api.listKeys();
    const big = Buffer.concat([png.subarray(0, 16), randomBytes(size - 16)]);
    const res = await post(form({ model: "upscale-x2" }, { bytes: big }));
    const body = await expectProblem(res, 413, "payload-too-large");
    expect(body.limit).toBe(MAX_UPLOAD);
    expect(await api.listKeys()).toEqual(keysBefore);
  });

  it("takes an image of exactly the limit", async () => {
    const exact = Buffer.concat([png.subarray(0, 16), randomBytes(MAX_UPLOAD - 16)]);
    expect((await post(form({ model: "upscale-x2" }, { bytes: exact }))).status).toBe(202);
  });

  it("passes timeout_seconds and start_deadline_seconds on to the ImageJob, and refuses bad ones with 400", async () => {
    const res = await post(form({ model: "upscale-x2", timeout_seconds: "30", start_deadline_seconds: "5" }, { bytes: png }));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await imageJobs()).find((j) => j.metadata.uid === id)!.spec).toMatchObject({ timeoutSeconds: 30, startDeadlineSeconds: 5 });
    const bad = await expectProblem(await post(form({ model: "upscale-x2", start_deadline_seconds: "0", timeout_seconds: "soon" }, { bytes: png })), 400, "invalid-request");
    expect((bad.errors as { path: string[] }[]).map((e) => e.path[0]).sort()).toEqual(["start_deadline_seconds", "timeout_seconds"]);
  });

  it("refuses a form without an image, or with bad fields, with 400 and keeps nothing", async () => {
    await expectProblem(await post(form({ model: "upscale-x2" })), 400, "invalid-request");
    const keysBefore = await api.listKeys();
    const body = await expectProblem(await post(form({ model: "upscale-x2", params: "[1,2]", output_format: "bmp" }, { bytes: png })), 400, "invalid-request");
    expect((body.errors as { path: string[] }[]).map((e) => e.path[0]).sort()).toEqual(["output_format", "params"]);
    expect(await api.listKeys()).toEqual(keysBefore);
  });
});

describe("POST /v1/jobs (JSON)", () => {
  const json = (body: unknown) => post(JSON.stringify(body), "application/json");

  it("creates an ImageJob for an s3:// input", async () => {
    const res = await json({ model: "upscale-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, params: { strength: 1 }, output: { format: "png" } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = (await imageJobs()).find((j) => j.metadata.uid === id)!;
    expect(job.spec).toMatchObject({ model: "upscale-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, params: { strength: 1 } });
  });

  it("passes timeoutSeconds and startDeadlineSeconds on, and refuses a start deadline below 1 with 400", async () => {
    const res = await json({ model: "upscale-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, timeoutSeconds: 60, startDeadlineSeconds: 10 });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await imageJobs()).find((j) => j.metadata.uid === id)!.spec).toMatchObject({ timeoutSeconds: 60, startDeadlineSeconds: 10 });
    await expectProblem(await json({ model: "upscale-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, startDeadlineSeconds: 0 }), 400, "invalid-request");
  });

  it("refuses malformed JSON with 400", async () => {
    await expectProblem(await post('{"model": "upscale-x2",', "application/json"), 400, "malformed-json");
  });

  it("refuses an invalid body with 400 and the zod issues in `errors`", async () => {
    const body = await expectProblem(await json({ model: "Bad_Name", input: { uri: "file:///etc/passwd" }, extra: 1 }), 400, "invalid-request");
    const errors = body.errors as { path: (string | number)[]; code: string; message: string }[];
    expect(errors.map((e) => e.path.join("."))).toEqual(expect.arrayContaining(["model", "input.uri"]));
    expect(errors.some((e) => e.code === "unrecognized_keys")).toBe(true);
  });

  it("answers 422 with the apiserver's message when it refuses the ImageJob", async () => {
    const body = await expectProblem(await json({ model: "upscale-x2", input: { uri: "s3://ab/cat.png" } }), 422, "job-rejected");
    expect(body.detail).toContain("spec.input.uri must look like s3://<bucket>/<key>");
  });

  it("refuses an unknown model with 422", async () => {
    await expectProblem(await json({ model: "nope", input: { uri: "https://example.com/cat.png" } }), 422, "unknown-model");
  });

  it("refuses other content types with 415", async () => {
    await expectProblem(await post("model=upscale-x2", "application/x-www-form-urlencoded"), 415, "unsupported-media-type");
  });
});
