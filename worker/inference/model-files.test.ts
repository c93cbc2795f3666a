import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { Agent, createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { makePki } from "../../devstack/pki.js";
import { S3ObjectStore } from "../../common/storage/index.js";
import { blur } from "../../models/blur.js";
import { encodeModel, FLOAT, node, onnx, valueInfo } from "../../models/onnx-builder.js";
import { ModelFiles, type ModelFilesOptions } from "./model-files.js";
import { captureLog } from "../../test/support/inference.js";

const MODEL = Buffer.from(blur());
const SHA = createHash("sha256").update(MODEL).digest("hex");
const WRONG = "0".repeat(64);
const LIMIT = 64 * 1024;

let dir: string;
let server: Server;
let base: string;
let agent: Agent;
const hits = new Map<string, number>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-model-files-"));
  const pki = await makePki(dir);
  agent = new Agent({ ca: await readFile(pki.caCert) });
  server = createServer({ cert: await readFile(pki.servingCert), key: await readFile(pki.servingKey) }, (req, res) => {
    const path = new URL(req.url ?? "/", "https://127.0.0.1").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path.startsWith("/model")) return void setTimeout(() => res.end(MODEL), 100);
    if (path === "/redirect") return res.writeHead(302, { location: "/model-redirected" }).end();
    if (path === "/to-http") return res.writeHead(302, { location: "http://127.0.0.1:1/model" }).end();
    if (path === "/declared-large") return res.writeHead(200, { "content-length": LIMIT + 1 }).end(Buffer.alloc(LIMIT + 1));
    if (path === "/streamed-large") {
      res.writeHead(200);
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 5);
      res.on("close", () => clearInterval(timer));
      return;
    }
    if (path === "/slow") return void setTimeout(() => res.end(MODEL), 5_000);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function makeFiles(extra: Partial<ModelFilesOptions> = {}): Promise<{ files: ModelFiles; cacheDir: string }> {
  const cacheDir = await mkdtemp(join(dir, "cache-"));
  const opts = { cacheDir, log: captureLog().log, fetchMaxBytes: LIMIT, fetchTimeoutMs: 1_000, httpsAgent: agent, ...extra };
  return { files: new ModelFiles(opts), cacheDir };
}

const unavailable = (message: RegExp): unknown => expect.objectContaining({ reason: "ModelUnavailable", message: expect.stringMatching(message) as unknown });

describe("ModelFiles: builtin", () => {
  it("writes the generated graph once, named by its sha256", async () => {
    const { files, cacheDir } = await makeFiles();
    const path = await files.resolve({ uri: "builtin:blur" });
    expect(path).toBe(join(cacheDir, `${SHA}.onnx`));
    expect(await readFile(path)).toEqual(MODEL);
    expect(await files.resolve({ uri: "builtin:blur", sha256: SHA })).toBe(path);
    expect(await readdir(cacheDir)).toEqual([`${SHA}.onnx`]);
  });

  it("refuses an unknown name and a wrong pin", async () => {
    const { files } = await makeFiles();
    await expect(files.resolve({ uri: "builtin:nope" })).rejects.toEqual(unavailable(/no builtin model "nope"; there are resize-x2, grayscale, blur, text-detect, upscale-x2, upscale-x3, upscale-x4, upscale-x8, upscale-x2-hq, upscale-x3-hq, upscale-x4-hq, upscale-x8-hq, ocr-detector, ocr-classifier, ocr-recognizer, ocr-charset/));
    await expect(files.resolve({ uri: "builtin:blur", sha256: WRONG })).rejects.toEqual(unavailable(/its sha256 is [0-9a-f]{64}, but the ImageModel pins 0{64}/));
  });
});

describe("ModelFiles: file://", () => {
  it("copies a verified file into the cache", async () => {
    const { files, cacheDir } = await makeFiles();
    const src = join(dir, "local.onnx");
    await writeFile(src, MODEL);
    expect(await files.resolve({ uri: pathToFileURL(src).href, sha256: SHA })).toBe(join(cacheDir, `${SHA}.onnx`));
  });

  it("refuses a sha256 mismatch and leaves nothing behind", async () => {
    const { files, cacheDir } = await makeFiles();
    const src = join(dir, "other.onnx");
    await writeFile(src, MODEL);
    await expect(files.resolve({ uri: pathToFileURL(src).href, sha256: WRONG })).rejects.toEqual(unavailable(/pins 0{64}/));
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("refuses a missing file", async () => {
    const { files } = await makeFiles();
    await expect(files.resolve({ uri: "file:///nonexistent/m.onnx", sha256: SHA })).rejects.toEqual(unavailable(/ENOENT/));
  });
});

describe("ModelFiles: https://", () => {
  it("downloads once for concurrent requests, and not again once cached", async () => {
    const { files } = await makeFiles();
    const paths = await Promise.all(Array.from({ length: 5 }, () => files.resolve({ uri: `${base}/model-once`, sha256: SHA })));
    expect(new Set(paths).size).toBe(1);
    await files.resolve({ uri: `${base}/model-once`, sha256: SHA });
    expect(hits.get("/model-once")).toBe(1);
  });

  it("follows https redirects", async () => {
    const { files } = await makeFiles();
    await expect(files.resolve({ uri: `${base}/redirect`, sha256: SHA })).resolves.toMatch(/\.onnx$/);
  });

  it.each([
    ["/to-http", /only https is allowed/],
    ["/declared-large", /65537 bytes is more than FETCH_MAX_BYTES/],
    ["/streamed-large", /more than FETCH_MAX_BYTES \(65536\) bytes/],
    ["/slow", /no answer within 1000 ms|took longer|aborted/i],
    ["/missing", /GET answered 404/],
  ])("refuses %s", async (path, message) => {
    const { files, cacheDir } = await makeFiles();
    const err = await files.resolve({ uri: `${base}${path}?sig=secret`, sha256: SHA }).catch((e: unknown) => e);
    expect(err).toEqual(unavailable(message));
    // A presigned URL's query holds credentials: messages reach users and logs.
    expect((err as Error).message).not.toContain("secret");
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("refuses a download whose sha256 differs from the pin", async () => {
    const { files } = await makeFiles();
    await expect(files.resolve({ uri: `${base}/model-wrong`, sha256: WRONG })).rejects.toEqual(unavailable(/pins 0{64}/));
  });
});

describe("ModelFiles: s3:// (versitygw)", () => {
  it("downloads from the bucket's store, and refuses a missing key", async () => {
    const { s3 } = testEnv();
    const storeFor = (bucket: string): S3ObjectStore => new S3ObjectStore({
      bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const key = `${uniqueName("models")}/blur.onnx`;
    const store = storeFor(s3.bucket);
    await store.put(key, MODEL);
    store.close();
    const { files, cacheDir } = await makeFiles({ objectStoreFor: storeFor });
    expect(await files.resolve({ uri: `s3://${s3.bucket}/${key}`, sha256: SHA })).toBe(join(cacheDir, `${SHA}.onnx`));
    await expect(files.resolve({ uri: `s3://${s3.bucket}/${key}.missing`, sha256: WRONG })).rejects.toEqual(unavailable(/no such object/));
  });

  it("refuses s3:// when the worker has no S3 access", async () => {
    const { files } = await makeFiles();
    await expect(files.resolve({ uri: "s3://bucket/m.onnx", sha256: SHA })).rejects.toEqual(unavailable(/no S3 access/));
  });
});

describe("ModelFiles: a graph with its weights beside it (ONNX external data)", () => {
  // y = x + w, w's 4 floats in model.onnx_data, which onnxruntime finds next to the graph.
  const weights = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
  const graph = Buffer.from(encodeModel({
    name: "external", doc: "x + w, w stored externally", nodes: [node("Add", ["x", "w"], ["y"])],
    initializers: [{
      name: "w", dims: [4], dataType: FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: "location", value: "model.onnx_data" }, { key: "offset", value: "0" }, { key: "length", value: "16" }],
    }],
    inputs: [valueInfo("x", FLOAT, [4])], outputs: [valueInfo("y", FLOAT, [4])],
  }));
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  it("lays the verified files out as the graph expects, once, and onnxruntime loads the weights from there", async () => {
    const { files, cacheDir } = await makeFiles();
    const exported = join(dir, "export", "unet");
    await mkdir(exported, { recursive: true });
    await writeFile(join(exported, "model.onnx"), graph);
    await writeFile(join(exported, "model.onnx_data"), weights);
    const source = {
      uri: pathToFileURL(join(exported, "model.onnx")).href, sha256: sha(graph),
      beside: { "model.onnx_data": { uri: pathToFileURL(join(exported, "model.onnx_data")).href, sha256: sha(weights) } },
    };
    const [path, again] = await Promise.all([files.resolve(source), files.resolve(source)]);
    expect(again).toBe(path);
    expect(path.startsWith(join(cacheDir, "laid-out"))).toBe(true);
    const session = await ort.InferenceSession.create(path);
    const out = await session.run({ x: new ort.Tensor("float32", new Float32Array([10, 20, 30, 40]), [4]) });
    expect([...(out.y!.data as Float32Array)]).toEqual([11, 22, 33, 44]);
    await session.release();
    // The content-addressed copy alone has no weights beside it: the layout is what makes it load.
    await expect(ort.InferenceSession.create(join(cacheDir, `${sha(graph)}.onnx`))).rejects.toThrow();
    expect((await readdir(join(cacheDir, "laid-out"))).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("refuses a companion name that leaves the graph's folder", async () => {
    const { files } = await makeFiles();
    const src = join(dir, "escape.onnx");
    await writeFile(src, graph);
    const source = { uri: pathToFileURL(src).href, sha256: sha(graph), beside: { "../model.onnx_data": { uri: pathToFileURL(src).href, sha256: sha(graph) } } };
    await expect(files.resolve(source)).rejects.toEqual(unavailable(/not a relative path within its folder/));
  });

  it("refuses a companion whose bytes differ from its pin, naming it", async () => {
    const { files } = await makeFiles();
    const src = join(dir, "pinned.onnx");
    await writeFile(src, graph);
    const data = join(dir, "pinned.onnx_data");
    await writeFile(data, weights);
    const source = { uri: pathToFileURL(src).href, sha256: sha(graph), beside: { "model.onnx_data": { uri: pathToFileURL(data).href, sha256: WRONG } } };
    await expect(files.resolve(source)).rejects.toEqual(unavailable(/pinned\.onnx_data.*pins 0{64}/));
  });
});
