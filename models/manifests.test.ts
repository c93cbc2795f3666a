import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdir } from "node:fs/promises";
import { ApiException, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { kubeConfig, uniqueName } from "../test/support/env.js";
import { API_VERSION, GROUP, IMAGEMODEL_KIND, IMAGEMODEL_PLURAL, VERSION, type ImageModel } from "../common/crd-types.js";
import { builtinNames } from "./builtin.js";
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
  it("has one manifest per builtin model", () => {
    expect(names).toEqual([...builtinNames()].sort());
  });

  it.each(names)("%s is an ImageModel named after its file and its builtin source", async (name) => {
    const m = await manifest(name);
    expect(m).toMatchObject({ apiVersion: API_VERSION, kind: IMAGEMODEL_KIND, metadata: { name }, spec: { source: { uri: `builtin:${name}` } } });
    expect(m.metadata.namespace).toBeUndefined();
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
    const err = await create(broken).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(422);
    expect(String((err as ApiException<unknown>).body)).toContain("spec.input takes either range or mean and std, not both");
  });
});

function create(body: ImageModel): Promise<unknown> {
  return custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace: ns, plural: IMAGEMODEL_PLURAL, body: { ...body, metadata: { ...body.metadata, namespace: ns } },
  });
}
