import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { request } from "node:http";
import sharp from "sharp";
import { startApi, type ApiFixture } from "../support/api-fixture.js";
import { MAX_FORM_IMAGES } from "../../api/http/routes/jobs.js";

// POST /v1/jobs against the real API (apiserver, Postgres, S3) with arbitrary multipart bodies,
// headers, fields and file bytes: never a 5xx, every refusal a problem+json, the API still up.

const MAX_UPLOAD = 32 * 1024;
const RUNS = 150;
let api: ApiFixture;
let png: Buffer;
let jpeg: Buffer;

beforeAll(async () => {
  api = await startApi("fuzz-upload", { maxUploadBytes: MAX_UPLOAD });
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#c04020" } }).png().toBuffer();
  jpeg = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#2040c0" } }).jpeg().toBuffer();
});
afterAll(async () => api?.stop());

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** A raw request, so that headers and bodies can be as wrong as a client can make them. */
function send(headers: Record<string, string>, body: Buffer, path = "/v1/jobs", method = "POST"): Promise<Answer> {
  const url = new URL(path, api.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { authorization: `Bearer ${api.key}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    // The API may answer (413) and hang up before it has read everything: that is an answer.
    req.on("error", reject);
    req.end(body);
  });
}

function expectWellFormed(answer: Answer, what: string): void {
  expect(answer.status, what).toBeLessThan(500);
  if (answer.status === 202) {
    expect(JSON.parse(answer.body), what).toHaveProperty("id");
    return;
  }
  expect(answer.status, what).toBeGreaterThanOrEqual(400);
  expect(answer.contentType, what).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  expect(problem, what).toMatchObject({ status: answer.status, type: expect.stringMatching(/^https:\/\/pixelmill\.io\/problems\//) as unknown });
  expect(typeof problem.title, what).toBe("string");
}

const crlf = "\r\n";

interface Part {
  name: string;
  filename: string | null;
  type: string | null;
  body: Buffer;
}

function multipart(boundary: string, parts: Part[], close: boolean): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === null ? "" : `; filename="${p.filename}"`}`;
    chunks.push(Buffer.from(`--${boundary}${crlf}Content-Disposition: ${disposition}${crlf}${p.type === null ? "" : `Content-Type: ${p.type}${crlf}`}${crlf}`, "utf8"), p.body, Buffer.from(crlf));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--${crlf}`));
  return Buffer.concat(chunks);
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

function fileBytes(): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.constant(png), fc.constant(jpeg),
    // A valid image header with garbage after it: accepted at upload (the worker decides).
    bytes(400).map((g) => Buffer.concat([png.subarray(0, 33), g])),
    bytes(400).map((g) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), g])),
    bytes(400).map((g) => Buffer.concat([Buffer.from("GIF89a"), g])),
    bytes(400).map((g) => Buffer.concat([Buffer.from("RIFF\0\0\0\0WEBPVP8 "), g])),
    fc.constant(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><image href="https://169.254.169.254/"/></svg>')),
    fc.constant(Buffer.alloc(0)),
    bytes(2000),
    // Over the limit.
    fc.integer({ min: MAX_UPLOAD + 1, max: MAX_UPLOAD * 3 }).map((n) => Buffer.concat([png, Buffer.alloc(n)])),
  );
}

const fieldName = fc.oneof(
  fc.constantFrom("image", "model", "params", "output_format", "IMAGE", "model ", ""),
  fc.string({ maxLength: 20 }).filter((s) => !/["\r\n]/.test(s)),
);
const fieldValue = fc.oneof(
  fc.constantFrom("resize-x2", "nope", "Bad_Name", "png", "bmp", "{}", "[1,2]", "null", '{"strength":0.3}', '{"strength":"high"}', '{"strength":7}', '{"bogus":1}'),
  fc.json().map((j) => j),
  fc.string({ maxLength: 200 }),
);

/** Built once the sample images exist (beforeAll). */
const partArb = (): fc.Arbitrary<Part> => fc.record({
  name: fieldName,
  filename: fc.option(fc.constantFrom("cat.png", "x.svg", "../../etc/passwd", "a\u0000b.png", "é.jpg", ""), { nil: null }),
  type: fc.option(fc.constantFrom("image/png", "image/svg+xml", "text/html", "application/octet-stream", "application/json", "image/jpeg; charset=x"), { nil: null }),
  body: fc.oneof(fileBytes(), fieldValue.map((v) => Buffer.from(v))),
});

const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,\-.:=?]{1,70}$/);

describe("POST /v1/jobs, fuzzed (fast-check)", () => {
  it("answers arbitrary multipart requests with 202 or a problem+json, never a 5xx", async () => {
    await fc.assert(fc.asyncProperty(
      boundary, fc.array(partArb(), { maxLength: 6 }), fc.boolean(),
      fc.constantFrom("normal", "no-boundary", "other-boundary", "json", "text", "none", "truncate"),
      fc.nat(), fc.dictionary(fc.constantFrom("x-odd", "accept", "content-encoding", "transfer-encoding-x"), fc.constantFrom("gzip", "*/*", "\u00ff", "identity")),
      async (b, parts, close, variant, cut, extra) => {
        let body = multipart(b, parts, close);
        const headers: Record<string, string> = { ...extra };
        if (variant === "normal" || variant === "truncate") headers["content-type"] = `multipart/form-data; boundary=${b}`;
        if (variant === "no-boundary") headers["content-type"] = "multipart/form-data";
        if (variant === "other-boundary") headers["content-type"] = `multipart/form-data; boundary=${b}x`;
        if (variant === "json") headers["content-type"] = "application/json";
        if (variant === "text") headers["content-type"] = "text/plain";
        if (variant === "truncate") body = body.subarray(0, cut % (body.length + 1));
        if (headers["content-encoding"] === undefined) delete headers["content-encoding"];
        expectWellFormed(await send(headers, body), `${variant} ${parts.map((p) => p.name).join(",")}`);
      },
    ), {
      numRuns: RUNS, seed: 0x5eed,
      examples: [
        // Found by this test: a gzip Content-Encoding over bytes that are not gzip was a 500.
        ["'", [], false, "json", 0, { "content-encoding": "gzip" }],
        // Found by this test: a form ending inside a file part other than `image` threw from its stream, uncaught.
        ["b", [{ name: "other", filename: "cat.png", type: null, body: Buffer.from("xyz") }], false, "normal", 0, {}],
      ],
    });
    const health = await api.fetch(`${api.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it("refuses a Content-Length far over the limit (MAX_FORM_IMAGES files of MAX_UPLOAD_BYTES) with 413 before reading the body", async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: MAX_FORM_IMAGES * MAX_UPLOAD + 2 * 1024 * 1024, max: 2 ** 40 }), async (declared) => {
      const headers = { "content-type": "multipart/form-data; boundary=b", "content-length": String(declared) };
      const answer = await sendDeclared(headers);
      expect(answer.status).toBe(413);
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
    }), { numRuns: 20, seed: 7 });
  });

  it("answers arbitrary JSON job bodies with 202 or a problem+json, never a 5xx", async () => {
    const job = fc.record({
      model: fc.oneof(fc.constant("resize-x2"), fc.string({ maxLength: 70 })),
      input: fc.oneof(fc.record({ uri: fc.oneof(
        fc.constantFrom("s3://pixelmill/inputs/cat.png", "s3://other-bucket/x.png", "s3://ab/x", "https://example.com/cat.png", "https://", "file:///etc/passwd", "upload:uploads/x.png"),
        fc.webUrl({ validSchemes: ["https"] }), fc.string({ maxLength: 3000 }),
      ) }), fc.anything()),
      params: fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom("strength", "bogus", "x"), fc.jsonValue()), fc.anything()),
      output: fc.oneof(fc.constant(undefined), fc.record({ format: fc.constantFrom("png", "bmp", 3), quality: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] })),
    }, { requiredKeys: [] });
    await fc.assert(fc.asyncProperty(fc.oneof(job, fc.anything()), async (body) => {
      const text = JSON.stringify(body) ?? "null";
      expectWellFormed(await send({ "content-type": "application/json" }, Buffer.from(text)), text.slice(0, 200));
    }), { numRuns: RUNS, seed: 0xbeef });
    expect((await api.fetch(`${api.url}/healthz`)).status).toBe(200);
  });
});

/** Headers only, promising a body that never comes: the answer must not wait for it. */
function sendDeclared(headers: Record<string, string>): Promise<Answer> {
  const url = new URL("/v1/jobs", api.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { authorization: `Bearer ${api.key}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString() });
      });
    });
    req.on("error", reject);
    req.flushHeaders();
    req.write("--b\r\n");
  });
}

describe("POST /v1/jobs: params and input buckets checked before the job exists", () => {
  const form = (fields: Record<string, string>): FormData => {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    body.append("image", new Blob([png], { type: "image/png" }), "cat.png");
    return body;
  };
  const post = (body: FormData | string, json = false) =>
    api.fetch(`${api.url}/v1/jobs`, { method: "POST", body, headers: json ? { "content-type": "application/json" } : {} });

  async function expectInvalidJob(res: Response, detail: string): Promise<void> {
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/invalid-job", title: "Invalid job", status: 422, detail });
  }

  it("refuses params of the wrong type, out of range or unknown with 422, by the worker's own rules, keeping no upload", async () => {
    const before = await api.listKeys();
    await expectInvalidJob(await post(form({ model: "resize-x2", params: '{"strength":"high"}' })), 'param strength must be a number, got "high"');
    await expectInvalidJob(await post(form({ model: "resize-x2", params: '{"strength":2}' })), "param strength must be at most 1, got 2");
    await expectInvalidJob(await post(form({ model: "resize-x2", params: '{"bogus":1}' })), "unknown param bogus; this model takes strength");
    expect(await api.listKeys()).toEqual(before);
    const uri = "s3://pixelmill/inputs/cat.png";
    await expectInvalidJob(await post(JSON.stringify({ model: "resize-x2", input: { uri }, params: { strength: true } }), true), "param strength must be a number, got true");
    expect((await post(JSON.stringify({ model: "resize-x2", input: { uri }, params: { strength: 0.25 } }), true)).status).toBe(202);
  });

  it("refuses an s3:// input outside INPUT_BUCKETS (default: the store's bucket) with 422", async () => {
    await expectInvalidJob(await post(JSON.stringify({ model: "resize-x2", input: { uri: "s3://someone-elses/x.png" } }), true),
      "bucket someone-elses is not one inputs may be read from (INPUT_BUCKETS)");
  });

  it("refuses an https:// input whose host is a non-public IP address with 422; names are left to the worker", async () => {
    for (const [host, why] of [["127.0.0.1", "loopback"], ["169.254.169.254", "link-local"], ["[::ffff:10.0.0.1]", "private"], ["[fd00::1]", "private"]]) {
      const uri = `https://${host}/latest/meta-data`;
      const bare = new URL(uri).hostname.replace(/^\[(.*)\]$/, "$1");
      await expectInvalidJob(await post(JSON.stringify({ model: "resize-x2", input: { uri } }), true), `${bare} is a ${why} address; inputs are fetched only from public addresses`);
    }
    expect((await post(JSON.stringify({ model: "resize-x2", input: { uri: "https://93.184.216.34/cat.png" } }), true)).status).toBe(202);
  });

  it("refuses an SVG upload with 415 naming the types it takes", async () => {
    const body = new FormData();
    body.append("model", "resize-x2");
    body.append("image", new Blob(['<svg xmlns="http://www.w3.org/2000/svg"/>'], { type: "image/svg+xml" }), "x.svg");
    const res = await post(body);
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ status: 415, detail: "the upload is not a PNG, JPEG, WebP, GIF, TIFF or AVIF image" });
  });
});
