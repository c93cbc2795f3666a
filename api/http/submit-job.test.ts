import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobList } from "../../common/crd-types.js";
import { storeRoot } from "../../common/job/input-access.js";
import { readAll } from "../../common/storage/index.js";
import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { INPUT_BUCKETS_ANNOTATION } from "../../common/job/input-grants.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";

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
  api.fetch(`${api.url}/v1/jobs`, { method: "POST", body, headers: type ? { "content-type": type } : {} });

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
    const res = await post(form({ model: "resize-x2", params: '{"strength":0.25}', output_format: "webp" }, { bytes: png }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; status: string; model: string; created_at: string; urls: { self: string; events: string } };
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(body.created_at) - Date.now())).toBeLessThan(60_000);
    expect(body).toEqual({
      id: body.id, status: "pending", model: "resize-x2", created_at: body.created_at,
      urls: { self: `${api.url}/v1/jobs/${body.id}`, events: `${api.url}/v1/jobs/${body.id}/events` },
    });
    expect(res.headers.get("location")).toBe(`/v1/jobs/${body.id}`);

    const job = (await imageJobs()).find((j) => j.metadata.uid === body.id)!;
    expect(job.metadata.name).toMatch(/^job-/);
    expect(job.metadata.labels).toMatchObject({ "pixelmill.io/model": "resize-x2", "app.kubernetes.io/managed-by": "pixelmill-api" });
    expect(job.spec).toMatchObject({ model: "resize-x2", params: { strength: 0.25 }, output: { format: "webp" } });
    const key = job.spec.input!.uri.replace(/^upload:/, "");
    expect(job.spec.input!.uri).toMatch(new RegExp(`^upload:uploads/${api.namespace}/[0-9a-f-]{36}\\.png$`));
    const stored = await api.store.get(key);
    expect(stored.contentType).toBe("image/png");
    expect((await readAll(stored.body)).equals(png)).toBe(true);

    // Recorded at once: a GET right after the answer finds the job.
    const got = await api.fetch(`${api.url}/v1/jobs/${body.id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ id: body.id, status: "pending", model: "resize-x2", attempts: 0, output: null, error: null });
  });

  it("refuses a file that is no image with 415 and keeps nothing", async () => {
    const before = await api.listKeys();
    const res = await post(form({ model: "resize-x2" }, { bytes: Buffer.from("hello, I am text\n".repeat(10)), name: "cat.png" }));
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
    const res = await post(form({ model: "resize-x2" }, { bytes: big }));
    const body = await expectProblem(res, 413, "payload-too-large");
    expect(body.limit).toBe(MAX_UPLOAD);
    expect(await api.listKeys()).toEqual(keysBefore);
  });

  it("takes an image of exactly the limit", async () => {
    const exact = Buffer.concat([png.subarray(0, 16), randomBytes(MAX_UPLOAD - 16)]);
    expect((await post(form({ model: "resize-x2" }, { bytes: exact }))).status).toBe(202);
  });

  it("passes timeout_seconds and start_deadline_seconds on to the ImageJob, and refuses bad ones with 400", async () => {
    const res = await post(form({ model: "resize-x2", timeout_seconds: "30", start_deadline_seconds: "5" }, { bytes: png }));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await imageJobs()).find((j) => j.metadata.uid === id)!.spec).toMatchObject({ timeoutSeconds: 30, startDeadlineSeconds: 5 });
    const bad = await expectProblem(await post(form({ model: "resize-x2", start_deadline_seconds: "0", timeout_seconds: "soon" }, { bytes: png })), 400, "invalid-request");
    expect((bad.errors as { path: string[] }[]).map((e) => e.path[0]).sort()).toEqual(["start_deadline_seconds", "timeout_seconds"]);
  });

  it("passes cache=false on as spec.cache false (the result cache, ADR 0015); absent, the CRD's default true; refuses another value", async () => {
    const ids = [];
    for (const fields of [{ cache: "false" }, {}] as Record<string, string>[]) {
      const res = await post(form({ model: "resize-x2", ...fields }, { bytes: png }));
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const jobs = await imageJobs();
    expect(ids.map((id) => jobs.find((j) => j.metadata.uid === id)!.spec.cache)).toEqual([false, true]);
    await expectProblem(await post(form({ model: "resize-x2", cache: "no" }, { bytes: png })), 400, "invalid-request");
  });

  it("refuses a form without an image, or with bad fields, with 400 and keeps nothing", async () => {
    await expectProblem(await post(form({ model: "resize-x2" })), 400, "invalid-request");
    const keysBefore = await api.listKeys();
    const body = await expectProblem(await post(form({ model: "resize-x2", params: "[1,2]", output_format: "bmp" }, { bytes: png })), 400, "invalid-request");
    expect((body.errors as { path: string[] }[]).map((e) => e.path[0]).sort()).toEqual(["output_format", "params"]);
    expect(await api.listKeys()).toEqual(keysBefore);
  });
});

describe("POST /v1/jobs (multipart): form limits", () => {
  const extras = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x${i}`, "1"]));
  function formWith(fields: Record<string, string>, otherFiles: number): FormData {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    for (let i = 0; i < otherFiles; i++) body.append(`other${i}`, new Blob([png], { type: "image/png" }), "other.png");
    body.append("image", new Blob([png], { type: "image/png" }), "cat.png");
    return body;
  }

  it("takes 16 fields and 4 files", async () => {
    expect((await post(formWith({ ...extras(15), model: "resize-x2" }, 3))).status).toBe(202);
  });

  it.each([
    ["many fields before the file", { ...extras(40), model: "resize-x2" }, 0, "the form has more than 16 fields", 16, "fields"],
    ["17 fields, the model last", { ...extras(16), model: "resize-x2" }, 0, "the form has more than 16 fields", 16, "fields"],
    ["a fourth file besides the image, the image last", { model: "resize-x2" }, 4, "the form has more than 3 files besides image", 3, "files besides image"],
  ] as const)("refuses %s with 413 naming the limit, and keeps nothing", async (_, fields, otherFiles, detail, limit, unit) => {
    const [jobsBefore, keysBefore] = [await imageJobs(), await api.listKeys()];
    const body = await expectProblem(await post(formWith(fields, otherFiles)), 413, "payload-too-large");
    expect(body).toMatchObject({ detail, limit, unit });
    expect((await imageJobs()).length).toBe(jobsBefore.length);
    expect(await api.listKeys()).toEqual(keysBefore);
  });

  it("refuses the limit hit after the image was stored, and deletes the upload", async () => {
    const keysBefore = await api.listKeys();
    const body = new FormData();
    body.append("model", "resize-x2");
    body.append("image", new Blob([png], { type: "image/png" }), "cat.png");
    for (const [k, v] of Object.entries(extras(20))) body.append(k, v);
    expect((await expectProblem(await post(body), 413, "payload-too-large")).detail).toBe("the form has more than 16 fields");
    expect(await api.listKeys()).toEqual(keysBefore);
  });
});

describe("POST /v1/jobs (multipart): several images make one batch job", () => {
  const images = async (n: number) => Promise.all(Array.from({ length: n }, (_, i) =>
    sharp({ create: { width: 4 + i, height: 3, channels: 3, background: "#2060c0" } }).png().toBuffer()));
  function batchForm(fields: Record<string, string>, files: Array<{ bytes: Buffer; name: string }>): FormData {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    for (const f of files) body.append("image", new Blob([f.bytes], { type: "image/png" }), f.name);
    return body;
  }

  it("stores each image as an upload, in order, and creates one ImageJob with spec.batch over them", async () => {
    const bytes = await images(3);
    const res = await post(batchForm({ model: "resize-x2", output_format: "webp" }, bytes.map((b, i) => ({ bytes: b, name: `cat-${i}.png` }))));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = (await imageJobs()).find((j) => j.metadata.uid === id)!;
    expect(job.spec.input).toBeUndefined();
    expect(job.spec.output).toEqual({ format: "webp" });
    const inputs = job.spec.batch!.inputs!;
    expect(inputs).toHaveLength(3);
    for (const [i, uri] of inputs.entries()) {
      expect(uri).toMatch(new RegExp(`^upload:uploads/${api.namespace}/`));
      expect(await readAll((await api.store.get(uri.slice("upload:".length))).body)).toEqual(bytes[i]);
    }
    expect(((await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as { batch: { total: number } }).batch.total).toBe(3);
  });

  it("replays an Idempotency-Key retry of the same files as the same job, keeping none of the retry's uploads", async () => {
    const bytes = await images(2);
    const files = bytes.map((b, i) => ({ bytes: b, name: `dog-${i}.png` }));
    const key = `batch-${randomBytes(6).toString("hex")}`;
    const sendWith = () => api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: batchForm({ model: "resize-x2" }, files), headers: { "idempotency-key": key } });
    const first = (await (await sendWith()).json()) as { id: string };
    const keysAfterFirst = await api.listKeys();
    const again = await sendWith();
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { id: string }).id).toBe(first.id);
    expect(await api.listKeys()).toEqual(keysAfterFirst);
    // The same key with other files is another request: refused.
    const other = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: batchForm({ model: "resize-x2" }, files.slice(0, 1).concat(files.slice(0, 1))), headers: { "idempotency-key": key } });
    expect(other.status).toBe(422);
    expect(await api.listKeys()).toEqual(keysAfterFirst);
  });

  it("refuses a batch with one bad file (415 naming it) or more than 100 images (413), and keeps none of the uploads", async () => {
    const [jobsBefore, keysBefore] = [await imageJobs(), await api.listKeys()];
    const bytes = await images(2);
    const bad = batchForm({ model: "resize-x2" }, [{ bytes: bytes[0]!, name: "a.png" }, { bytes: bytes[1]!, name: "b.png" }, { bytes: Buffer.from("not an image at all"), name: "c.png" }]);
    await expectProblem(await post(bad), 415, "unsupported-media-type");
    const many = batchForm({ model: "resize-x2" }, Array.from({ length: 101 }, (_, i) => ({ bytes: bytes[0]!, name: `n-${i}.png` })));
    const body = await expectProblem(await post(many), 413, "payload-too-large");
    expect(body).toMatchObject({ detail: "the form has more than 100 image files", limit: 100, unit: "image files" });
    expect((await imageJobs()).length).toBe(jobsBefore.length);
    expect(await api.listKeys()).toEqual(keysBefore);
  });
});

describe("POST /v1/jobs (JSON)", () => {
  const json = (body: unknown) => post(JSON.stringify(body), "application/json");

  it("creates an ImageJob for an s3:// input", async () => {
    const res = await json({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, params: { strength: 1 }, output: { format: "png" } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const job = (await imageJobs()).find((j) => j.metadata.uid === id)!;
    expect(job.spec).toMatchObject({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, params: { strength: 1 } });
  });

  it("refuses with 422 an s3:// input naming another namespace's upload or output in the platform's store", async () => {
    const root = storeRoot(api.store)!;
    for (const key of ["uploads/other-team/x.png", "outputs/other-team/job-1/uid-1.png", "uploads/x.png"]) {
      const before = (await imageJobs()).length;
      const body = await expectProblem(await json({ model: "resize-x2", input: { uri: `${root}${key}` } }), 422, "invalid-job");
      expect(body.detail).toMatch(new RegExp(`outside namespace ${api.namespace}'s uploads and outputs`));
      expect((await imageJobs()).length).toBe(before);
    }
    const own = await json({ model: "resize-x2", input: { uri: `${root}outputs/${api.namespace}/job-1/uid-1.png` } });
    expect(own.status).toBe(202);
  });

  it("refuses with 422 an s3:// bucket in INPUT_BUCKETS but not granted to the tenant's namespace, and accepts it once granted", async () => {
    const other = await api.newTenant("api-submit-grants");
    const asOther = (uri: string) => fetch(`${api.url}/v1/jobs`, {
      method: "POST", headers: { authorization: `Bearer ${other.key}`, "content-type": "application/json" }, body: JSON.stringify({ model: "resize-x2", input: { uri } }),
    });
    const root = storeRoot(api.store)!;
    const body = await expectProblem(await asOther(`${root}inputs/cat.png`), 422, "invalid-job");
    expect(body.detail).toBe(`bucket ${new URL(root).host} is not granted to namespace ${other.namespace} (annotation ${INPUT_BUCKETS_ANNOTATION} on the Namespace)`);
    // Its own uploads in the platform's store need no grant.
    expect((await asOther(`${root}uploads/${other.namespace}/x.png`)).status).toBe(202);
    await api.kc.makeApiClient(CoreV1Api).patchNamespace(
      { name: other.namespace, body: { metadata: { annotations: { [INPUT_BUCKETS_ANNOTATION]: `some-bucket,${new URL(root).host}` } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    // The API trusts what it read for a few seconds at most.
    await eventually(async () => (await asOther(`${root}inputs/cat.png`)).status === 202, "the grant to be seen", 15_000);
  });

  it("passes timeoutSeconds and startDeadlineSeconds on, and refuses a start deadline below 1 with 400", async () => {
    const res = await json({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, timeoutSeconds: 60, startDeadlineSeconds: 10 });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await imageJobs()).find((j) => j.metadata.uid === id)!.spec).toMatchObject({ timeoutSeconds: 60, startDeadlineSeconds: 10 });
    await expectProblem(await json({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, startDeadlineSeconds: 0 }), 400, "invalid-request");
  });

  it("passes cache: false on as spec.cache false", async () => {
    const res = await json({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, cache: false });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await imageJobs()).find((j) => j.metadata.uid === id)!.spec.cache).toBe(false);
    await expectProblem(await json({ model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, cache: "no" }), 400, "invalid-request");
  });

  it("refuses a start deadline over 7 days with 400, in JSON and in a form", async () => {
    const uri = "s3://pixelmill/inputs/cat.png";
    const over = await expectProblem(await json({ model: "resize-x2", input: { uri }, startDeadlineSeconds: 3_000_000 }), 400, "invalid-request");
    expect(over.errors).toEqual([expect.objectContaining({ path: ["startDeadlineSeconds"], message: "at most 604800 (7 days)" })]);
    const form1 = await expectProblem(await post(form({ model: "resize-x2", start_deadline_seconds: "3000000" }, { bytes: png })), 400, "invalid-request");
    expect((form1.errors as { path: string[] }[]).map((e) => e.path[0])).toEqual(["start_deadline_seconds"]);
    expect((await json({ model: "resize-x2", input: { uri }, startDeadlineSeconds: 604_800 })).status).toBe(202);
  });

  it("refuses params nested 100,000 deep with 400, with or without an Idempotency-Key, in JSON and in a form", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const text = `{"model":"resize-x2","input":{"uri":"s3://pixelmill/inputs/cat.png"},"params":{"strength":${deep}}}`;
    for (const key of [undefined, "deep-params-1"]) {
      const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: text, headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) } });
      const body = await expectProblem(res, 400, "invalid-request");
      const errors = body.errors as { path: string[]; message: string }[];
      expect(errors.map((e) => e.path)).toEqual([["params", "strength"]]);
      expect(errors[0]!.message).toMatch(/must be a number, a boolean or a string/);
    }
    // A form field holds 64 KiB: 30,000 deep.
    const formDeep = `{"strength":${"[".repeat(30_000)}${"]".repeat(30_000)}}`;
    for (const key of [undefined, "deep-params-2"]) {
      const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form({ model: "resize-x2", params: formDeep }, { bytes: png }), headers: key ? { "idempotency-key": key } : {} });
      const body = await expectProblem(res, 400, "invalid-request");
      expect(body.errors).toEqual([expect.objectContaining({ path: ["params", "strength"] })]);
    }
    expect((await api.fetch(`${api.url}/healthz`)).status).toBe(200);
  });

  it("refuses params that are not scalars, too long or too many bytes with 400", async () => {
    const input = { uri: "s3://pixelmill/inputs/cat.png" };
    const cases: [unknown, string][] = [
      [{ strength: { x: 1 } }, "must be a number, a boolean or a string"],
      [{ strength: [0.5] }, "must be a number, a boolean or a string"],
      [{ strength: null }, "must be a number, a boolean or a string"],
      [{ note: "x".repeat(4097) }, "must be at most 4096 characters"],
      [{ note: "nul \u0000 inside" }, "must not contain NUL characters"],
      [Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${i}`, "x".repeat(4000)])), "at most 16384 bytes of params as JSON"],
      [{ ["n".repeat(64)]: 1 }, "a param name is at most 63 characters"],
    ];
    for (const [params, message] of cases) {
      const body = await expectProblem(await json({ model: "resize-x2", input, params }), 400, "invalid-request");
      expect(JSON.stringify(body.errors), JSON.stringify(params).slice(0, 80)).toContain(message);
    }
  });

  it("refuses malformed JSON with 400", async () => {
    await expectProblem(await post('{"model": "resize-x2",', "application/json"), 400, "malformed-json");
  });

  it("refuses an invalid body with 400 and the zod issues in `errors`", async () => {
    const body = await expectProblem(await json({ model: "Bad_Name", input: { uri: "file:///etc/passwd" }, extra: 1 }), 400, "invalid-request");
    const errors = body.errors as { path: (string | number)[]; code: string; message: string }[];
    expect(errors.map((e) => e.path.join("."))).toEqual(expect.arrayContaining(["model", "input.uri"]));
    expect(errors.some((e) => e.code === "unrecognized_keys")).toBe(true);
  });

  it("answers 422 with the apiserver's message when it refuses the ImageJob", async () => {
    const body = await expectProblem(await json({ model: "resize-x2", input: { uri: "s3://ab/cat.png" } }), 422, "job-rejected");
    expect(body.detail).toContain("spec.input.uri must look like s3://<bucket>/<key>");
  });

  it("refuses an unknown model with 422", async () => {
    await expectProblem(await json({ model: "nope", input: { uri: "https://example.com/cat.png" } }), 422, "unknown-model");
  });

  it.each([
    ["https://127.0.0.1/cat.png", "127.0.0.1 is a loopback address"],
    ["https://[::ffff:127.0.0.1]/cat.png", "::ffff:7f00:1 is a loopback address"],
    ["https://[::ffff:0:127.0.0.1]/cat.png", "::ffff:0:7f00:1 is a loopback address"], // IPv4-translated
    ["https://[::169.254.169.254]/latest/meta-data/", "::a9fe:a9fe is a link-local address"], // IPv4-compatible
    ["https://[64:ff9b::10.0.0.1]/cat.png", "64:ff9b::a00:1 is a private address"], // NAT64
    ["https://[2002:7f00:1::1]/cat.png", "2002:7f00:1::1 is a loopback address"], // 6to4
    ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/cat.png", "2001:0:4136:e378:8000:63bf:3fff:fdd2 is a reserved address"], // Teredo
    ["https://[fe80::1%25eth0]/cat.png", "fe80::1%eth0 is an IPv6 address with a zone id, which names a local network interface"],
  ])("refuses an https input at %s with 422 and creates no ImageJob", async (uri, detail) => {
    const jobsBefore = await imageJobs();
    const body = await expectProblem(await json({ model: "resize-x2", input: { uri } }), 422, "invalid-job");
    expect(body.detail).toBe(`${detail}; inputs are fetched only from public addresses`);
    expect((await imageJobs()).length).toBe(jobsBefore.length);
  });

  it("refuses other content types with 415", async () => {
    await expectProblem(await post("model=resize-x2", "application/x-www-form-urlencoded"), 415, "unsupported-media-type");
  });
});
