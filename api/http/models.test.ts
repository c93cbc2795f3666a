import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { GROUP, IMAGEMODEL_PLURAL, VERSION, type ImageModel } from "../../common/crd-types.js";
import { readAll } from "../../common/storage/index.js";
import { builtinModel } from "../../models/builtin.js";
import { encodeModel, FLOAT, INT64, node, valueInfo } from "../../models/onnx-builder.js";
import { convertTfjsLayers } from "../../models/tfjs/convert.js";
import { packageFolder, readTfjsModel } from "../../models/tfjs/read.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import type { ModelList, ModelView } from "./schemas.js";

// POST /v1/models on the real parts: onnxruntime loads each upload, S3 (versitygw) keeps the file,
// the kube-apiserver validates and keeps the ImageModel in the caller's namespace.
const LIMIT = 2 * 1024 * 1024;
let api: ApiFixture;
let writer: string;
let gray: Uint8Array;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "api-models-"));
  api = await startApi("api-models", { modelUploadMaxBytes: LIMIT, modelTmpDir: tmp });
  writer = (await api.newKey(["models:read", "models:write"])).key;
  gray = (await builtinModel("grayscale"))!;
});
afterAll(async () => {
  await api?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
// Each request's folder is removed when it is answered, whatever the answer.
afterEach(async () => expect(await readdir(tmp)).toEqual([]));

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const GRAY_CONTRACT = { input: { layout: "NCHW", colorOrder: "RGB", range: { min: 0, max: 1 } }, output: { kind: "image", range: { min: 0, max: 1 } } };

function form(fields: Record<string, unknown>, files: Record<string, [Uint8Array, string][]> = {}): FormData {
  const f = new FormData();
  for (const [name, value] of Object.entries(fields)) f.set(name, typeof value === "string" ? value : JSON.stringify(value));
  for (const [name, parts] of Object.entries(files)) for (const [bytes, filename] of parts) f.append(name, new Blob([new Uint8Array(bytes)]), filename);
  return f;
}

const onnxForm = (name: string, bytes: Uint8Array = gray, contract: unknown = GRAY_CONTRACT, extra: Record<string, unknown> = {}) =>
  form({ name, task: "image-to-image", contract, ...extra }, { file: [[bytes, "model.onnx"]] });

const add = (key: string, body: FormData) => fetch(`${api.url}/v1/models`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body });
const list = async (key: string) => ((await (await fetch(`${api.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as ModelList).items;
const readModel = (namespace: string, name: string) => api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEMODEL_PLURAL, name }) as Promise<ImageModel>;
const modelFiles = async () => (await api.listKeys()).filter((k) => k.startsWith("models/"));

/** A tenant with a key that may add models. */
async function writerTenant(label: string) {
  const tenant = await api.newTenant(label);
  const id = (await api.tenants.byName(tenant.name))!.id;
  return { ...tenant, writer: (await api.newKey(["models:read", "models:write"], { tenantId: id })).key };
}

describe("POST /v1/models", () => {
  it("adds an ONNX model to the caller's namespace: stored by its SHA-256, pinned in the ImageModel, listed by GET", async () => {
    const res = await add(writer, onnxForm("gray-shared", gray, GRAY_CONTRACT, { license: "Apache-2.0", origin: { url: "https://example.com/gray.onnx" } }));
    expect(res.status).toBe(201);
    const view = (await res.json()) as ModelView;
    expect(view).toEqual({
      name: "gray-shared", task: "image-to-image", license: "Apache-2.0", origin: { url: "https://example.com/gray.onnx" }, sha256: sha256(gray),
      input: { layout: "NCHW", color_order: "RGB", range: { min: 0, max: 1 }, size_multiple: 1 }, output: { kind: "image", range: { min: 0, max: 1 }, scale: 1 }, components: {}, params: [],
    });
    expect((await list(api.key)).find((m) => m.name === "gray-shared")).toEqual(view);

    const key = `models/${api.namespace}/${sha256(gray)}.onnx`;
    const model = await readModel(api.namespace, "gray-shared");
    expect(model.spec.source).toEqual({ uri: api.store.uri(key), sha256: sha256(gray) });
    expect(model.metadata.annotations?.["pixelmill.io/added-by-key"]).toMatch(/\S/);
    // The stored object is the upload, byte for byte, and onnxruntime still loads it.
    const stored = await readAll((await api.store.get(key)).body);
    expect(sha256(stored)).toBe(sha256(gray));
    const session = await ort.InferenceSession.create(stored);
    expect(session.inputNames).toEqual(["image"]);
    await session.release();
  });

  it("keeps a tenant's model to its namespace: another tenant does not see it, the platform's models stay shared", async () => {
    const a = await writerTenant("mod-a");
    const b = await writerTenant("mod-b");
    const res = await add(a.writer, onnxForm("own-gray"));
    expect(res.status).toBe(201);
    expect((await readModel(a.namespace, "own-gray")).spec.source.sha256).toBe(sha256(gray));
    await expect(readModel(api.namespace, "own-gray")).rejects.toMatchObject({ code: 404 });
    expect((await list(a.key)).map((m) => m.name)).toContain("own-gray");
    expect((await list(b.key)).map((m) => m.name)).not.toContain("own-gray");
    expect((await list(api.key)).map((m) => m.name)).not.toContain("own-gray");
    expect(await modelFiles()).toContain(`models/${a.namespace}/${sha256(gray)}.onnx`);
    // The platform tenant's model is everyone's; a tenant may add its own of that name, which wins for it.
    expect((await list(b.key)).map((m) => m.name)).toContain("resize-x2");
    const own = await add(b.writer, onnxForm("resize-x2"));
    expect(own.status).toBe(201);
    expect((await list(b.key)).find((m) => m.name === "resize-x2")?.sha256).toBe(sha256(gray));
    expect((await list(api.key)).find((m) => m.name === "resize-x2")?.sha256).toBeNull();
  });

  it("refuses a key without models:write (403), a duplicate name (409) and an oversized upload (413)", async () => {
    const forbidden = await add(api.key, onnxForm("no-scope"));
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ type: "https://pixelmill.io/problems/missing-scope", scope: "models:write" });

    expect((await add(writer, onnxForm("twice"))).status).toBe(201);
    const before = await modelFiles();
    const resize: Uint8Array = (await builtinModel("resize-x2"))!;
    const again = await add(writer, onnxForm("twice", resize, { ...GRAY_CONTRACT, output: { kind: "image", scale: 2 } }));
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ type: "https://pixelmill.io/problems/model-exists", model: "twice" });
    expect((await readModel(api.namespace, "twice")).spec.source.sha256).toBe(sha256(gray));
    expect(await modelFiles()).toEqual(before);

    const big = await add(writer, onnxForm("too-big", new Uint8Array(LIMIT + 1024)));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ type: "https://pixelmill.io/problems/payload-too-large", limit: LIMIT });
    expect(await modelFiles()).toEqual(before);
  });

  it("refuses with 422 and the reason: a file that is not ONNX, a contract the graph does not fit, a spec the CRD refuses", async () => {
    const before = await modelFiles();
    const junk = await add(writer, onnxForm("junk", new TextEncoder().encode("certainly not a protobuf of a model")));
    expect(junk.status).toBe(422);
    expect(await junk.json()).toMatchObject({ type: "https://pixelmill.io/problems/invalid-model", detail: expect.stringMatching(/^onnxruntime cannot load the file as an ONNX model: .*Protobuf parsing failed/) as string });

    const missing = await add(writer, onnxForm("misnamed", gray, { ...GRAY_CONTRACT, input: { ...GRAY_CONTRACT.input, name: "pixels" } }));
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({ detail: 'the model does not fit its contract: the model has no input named "pixels" (its inputs: image)' });

    // A graph onnxruntime loads, whose input is no image: int64, rank 2.
    const vector = encodeModel({
      name: "vector", doc: "", nodes: [node("Identity", ["x"], ["y"])], inputs: [valueInfo("x", INT64, ["N", 4])], outputs: [valueInfo("y", INT64, ["N", 4])],
    });
    const notImage = await add(writer, onnxForm("vector", vector));
    expect(notImage.status).toBe(422);
    expect(((await notImage.json()) as { detail: string }).detail).toBe(
      'the model does not fit its contract: the image input "x" is int64, not float32; the image input "x" has rank 2 ([N, 4]), not 4 (NCHW)',
    );
    const five = encodeModel({
      name: "five", doc: "", nodes: [node("Identity", ["x"], ["y"])], inputs: [valueInfo("x", FLOAT, ["N", 5, "H", "W"])], outputs: [valueInfo("y", FLOAT, ["N", 5, "H", "W"])],
    });
    const channels = await add(writer, onnxForm("five", five));
    expect(((await channels.json()) as { detail: string }).detail).toContain('the image input "x" has 5 channels in NCHW ([N, 5, H, W])');

    // A graph that takes a `threshold` input besides the image: it must be a declared param.
    const detect = encodeModel({
      name: "detect", doc: "", nodes: [node("Greater", ["image", "threshold"], ["above"]), node("Cast", ["above"], ["mask"], { to: FLOAT })],
      inputs: [valueInfo("image", FLOAT, ["N", 1, "H", "W"]), valueInfo("threshold", FLOAT, [])], outputs: [valueInfo("mask", FLOAT, ["N", 1, "H", "W"])],
    });
    const maskContract = { input: { colorOrder: "GRAY", range: { min: 0, max: 1 } }, output: { kind: "mask" } };
    const undeclared = await add(writer, form({ name: "detect", task: "image-to-mask", contract: maskContract }, { file: [[detect, "d.onnx"]] }));
    expect(undeclared.status).toBe(422);
    expect(((await undeclared.json()) as { detail: string }).detail).toContain('the model\'s input "threshold" is neither the image input nor a declared param');

    const crd = await add(writer, onnxForm("wrong-kind", gray, { ...GRAY_CONTRACT, output: { kind: "mask" } }));
    expect(crd.status).toBe(422);
    expect(await crd.json()).toMatchObject({ type: "https://pixelmill.io/problems/model-rejected", detail: expect.stringContaining("spec.output.kind must be image for task image-to-image") as string });

    const badForm = await add(writer, form({ name: "Not_A_Label", task: "image-to-image", contract: GRAY_CONTRACT }, { file: [[gray, "m.onnx"]] }));
    expect(badForm.status).toBe(400);
    expect(await modelFiles()).toEqual(before);
    const refused = ["junk", "misnamed", "vector", "five", "detect", "wrong-kind"];
    expect((await list(writer)).filter((m) => refused.includes(m.name))).toEqual([]);

    const declared = await add(writer, form({ name: "detect", task: "image-to-mask", contract: { ...maskContract, params: [{ name: "threshold", type: "number", default: 0.3 }] } }, { file: [[detect, "d.onnx"]] }));
    expect(declared.status).toBe(201);
  });

  it("shows a string param's enum; a job outside it is refused (422, naming the allowed values); an enum on a number param is the CRD's 422", async () => {
    const params = [{ name: "style", type: "string", enum: ["soft", "hard"], default: "soft" }];
    const res = await add(writer, onnxForm("gray-styles", gray, { ...GRAY_CONTRACT, params }));
    expect(res.status).toBe(201);
    expect(((await res.json()) as ModelView).params).toEqual(params);
    expect((await list(api.key)).find((m) => m.name === "gray-styles")?.params).toEqual(params);
    expect((await readModel(api.namespace, "gray-styles")).spec.params).toEqual(params);

    const job = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gray-styles", params: { style: "medium" } }) });
    expect(job.status).toBe(422);
    expect(job.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await job.json()).toMatchObject({ type: "https://pixelmill.io/problems/invalid-job", detail: 'param style must be one of soft, hard, got "medium"' });

    const onNumber = await add(writer, onnxForm("gray-enum-number", gray, { ...GRAY_CONTRACT, params: [{ name: "t", type: "number", enum: ["1"] }] }));
    expect(onNumber.status).toBe(422);
    expect(await onNumber.json()).toMatchObject({ type: "https://pixelmill.io/problems/model-rejected", detail: expect.stringContaining("param t: enum applies only to string params") as string });
    const empty = await add(writer, onnxForm("gray-enum-empty", gray, { ...GRAY_CONTRACT, params: [{ name: "s", type: "string", enum: [] }] }));
    expect(empty.status).toBe(400);
  });

  it("converts a TF.js layers model (model.json and its shards) and adds the ONNX graph", async () => {
    const dir = packageFolder("@upscalerjs/esrgan-slim", "models/x2");
    const files = await readdir(dir);
    const shards = await Promise.all(files.filter((f) => f !== "model.json").map(async (f) => [await readFile(join(dir, f)), f] as [Uint8Array, string]));
    const contract = { input: { layout: "NCHW", colorOrder: "RGB", range: { min: 0, max: 255 } }, output: { kind: "image", scale: 2, range: { min: 0, max: 255 } } };
    const withoutShards = await add(writer, form({ name: "slim", task: "image-to-image", contract }, { "model.json": [[await readFile(join(dir, "model.json")), "model.json"]] }));
    expect(withoutShards.status).toBe(422);
    expect(((await withoutShards.json()) as { detail: string }).detail).toMatch(/^the form lacks the weight shards model.json names: group1-shard1of1.bin/);

    const res = await add(writer, form(
      { name: "slim", task: "image-to-image", contract, license: "MIT", origin: { package: "@upscalerjs/esrgan-slim", version: "1.0.0" } },
      { "model.json": [[await readFile(join(dir, "model.json")), "model.json"]], shard: shards },
    ));
    expect(res.status).toBe(201);
    const expected = sha256(convertTfjsLayers(await readTfjsModel(dir)));
    expect(await res.json()).toMatchObject({ name: "slim", sha256: expected, output: { kind: "image", scale: 2 } });
    const stored = await readAll((await api.store.get(`models/${api.namespace}/${expected}.onnx`)).body);
    const session = await ort.InferenceSession.create(stored);
    expect([session.inputNames, session.outputNames]).toEqual([["LR"], ["SR"]]);
    await session.release();
  });
});
