import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import {
  ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions,
} from "@kubernetes/client-node";
import { testEnv, kubeConfig, uniqueName } from "../support/env.js";
import {
  API_VERSION, GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, WORKERPOOL_PLURAL,
  type ImageJob, type ImageJobSpec, type ImageModel, type WorkerPool,
} from "../../common/crd-types.js";

import {
  MAX_PARAM_STRING_LENGTH, MAX_START_DEADLINE_SECONDS, MAX_TIMEOUT_SECONDS, MAX_TTL_SECONDS_AFTER_FINISHED,
} from "../../common/job/limits.js";
import { manifest } from "../support/inference.js";
import { expectRefused } from "../support/crd-checks.js";

type Manifest = ImageJob | ImageModel | WorkerPool;

/** `[[[ … ]]]`, `depth` deep. */
function deepList(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

const examplesDir = fileURLToPath(new URL("../../examples", import.meta.url));
const plurals = { ImageJob: IMAGEJOB_PLURAL, ImageModel: IMAGEMODEL_PLURAL, WorkerPool: WORKERPOOL_PLURAL };
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

let ns = "";
let custom: CustomObjectsApi;

beforeAll(async () => {
  console.log("kube-apiserver", testEnv().apiserverVersion);
  const kc = kubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  ns = uniqueName("crds");
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  if (ns) await kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
});

async function loadExamples(): Promise<{ file: string; manifest: Manifest }[]> {
  const files = (await readdir(examplesDir)).filter((f) => f.endsWith(".yaml")).sort();
  const loaded = await Promise.all(files.map(async (file) => {
    const docs = parseAllDocuments(await readFile(join(examplesDir, file), "utf8"));
    return docs.map((d) => ({ file, manifest: d.toJS() as Manifest }));
  }));
  return loaded.flat();
}

/** Request parameters for the objects of `kind` in this file's namespace. */
function all(kind: Manifest["kind"]) {
  return { group: GROUP, version: VERSION, namespace: ns, plural: plurals[kind] };
}

function at(kind: Manifest["kind"], name: string) {
  return { ...all(kind), name };
}

async function create<T extends Manifest>(manifest: T): Promise<T> {
  const body = { ...manifest, metadata: { ...manifest.metadata, namespace: ns } };
  return (await custom.createNamespacedCustomObject({ ...all(manifest.kind), body })) as T;
}

async function get<T extends Manifest>(kind: T["kind"], name: string): Promise<T> {
  return (await custom.getNamespacedCustomObject(at(kind, name))) as T;
}

function job(name: string, spec: Partial<ImageJobSpec> = {}): ImageJob {
  const full = { model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, ...spec };
  return { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec: full };
}


describe("examples", () => {
  it("are all accepted as they are", async () => {
    const examples = await loadExamples();
    expect(examples.map((e) => e.file)).toEqual(
      expect.arrayContaining(["imagejob-upscale.yaml", "imagemodel-text-detect.yaml", "workerpool-h100.yaml"]),
    );
    for (const { manifest } of examples) {
      await create(manifest);
      const got = await get(manifest.kind, manifest.metadata.name!);
      expect(got.spec).toMatchObject(manifest.spec);
    }
  });
});

describe("ImageJob", () => {
  it("reads back as applied, with the defaults filled in", async () => {
    const example = (await loadExamples()).find((e) => e.file === "imagejob-upscale.yaml")!.manifest as ImageJob;
    const applied = { ...example, metadata: { name: "defaults" } };
    await create(applied);
    const got = await get<ImageJob>("ImageJob", "defaults");
    expect(got.spec).toEqual({
      ...applied.spec,
      output: { format: "png" },
      priority: 0,
      maxAttempts: 3,
      // No TTL default: unset, the API's mirror deletes the finished job once recorded (ADR 0018).
      cache: true,
    });
    expect(got.status).toBeUndefined();
  });

  it("takes status only through the status subresource", async () => {
    await create(job("status"));
    const conditions = [
      { type: "Queued", status: "True", reason: "Enqueued", message: "", lastTransitionTime: "2026-01-02T03:04:05Z" },
    ];
    const status = { phase: "Queued", attempts: 0, conditions };
    await custom.patchNamespacedCustomObjectStatus({ ...at("ImageJob", "status"), body: { status } }, mergePatch);
    let got = await get<ImageJob>("ImageJob", "status");
    expect(got.status).toEqual(status);

    // Through the main resource the spec change lands and the status change is dropped.
    const body = { spec: { priority: 7 }, status: { phase: "Succeeded" } };
    await custom.patchNamespacedCustomObject({ ...at("ImageJob", "status"), body }, mergePatch);
    got = await get<ImageJob>("ImageJob", "status");
    expect(got.spec.priority).toBe(7);
    expect(got.status?.phase).toBe("Queued");
  });

  it("is seen by a watch as ADDED, then MODIFIED on a status update", async () => {
    const events: { type: string; phase: string | undefined }[] = [];
    let notify = (): void => {};
    const abort = await new Watch(kubeConfig()).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${IMAGEJOB_PLURAL}`,
      { fieldSelector: "metadata.name=watched" },
      (type: string, obj: ImageJob) => {
        events.push({ type, phase: obj.status?.phase });
        notify();
      },
      () => {},
    );
    const waitFor = (count: number) =>
      new Promise<void>((resolve) => {
        notify = () => {
          if (events.length >= count) resolve();
        };
        notify();
      });
    try {
      await create(job("watched"));
      await waitFor(1);
      const body = { status: { phase: "Running" } };
      await custom.patchNamespacedCustomObjectStatus({ ...at("ImageJob", "watched"), body }, mergePatch);
      await waitFor(2);
      expect(events).toEqual([
        { type: "ADDED", phase: undefined },
        { type: "MODIFIED", phase: "Running" },
      ]);
    } finally {
      abort.abort();
    }
  });

  it("can be listed by model", async () => {
    await create(job("by-model", { model: "only-here" }));
    const list = (await custom.listNamespacedCustomObject({ ...all("ImageJob"), fieldSelector: "spec.model=only-here" })) as {
      items: ImageJob[];
    };
    expect(list.items.map((j) => j.metadata.name)).toEqual(["by-model"]);
  });
});

describe("validation refuses", () => {
  it.each([
    ["a file: input", { input: { uri: "file:///etc/passwd" } }, "spec.input.uri must use one of the schemes s3://, https:// or upload:"],
    ["an http: input", { input: { uri: "http://example.com/cat.png" } }, "spec.input.uri must use one of the schemes"],
    ["maxAttempts 0", { maxAttempts: 0 }, "spec.maxAttempts must be between 1 and 10"],
    ["maxAttempts 11", { maxAttempts: 11 }, "spec.maxAttempts must be between 1 and 10"],
    ["a model that is no DNS label", { model: "Bad_Name" }, "spec.model must be a DNS label"],
    ["a missing model", { model: undefined }, "spec.model: Required value"],
  ])("an ImageJob with %s", async (_, spec, message) => {
    const manifest = job(uniqueName("bad"), spec);
    await expectRefused(create(manifest), message);
  });

  it.each([
    ["a TTL over 30 days", { ttlSecondsAfterFinished: MAX_TTL_SECONDS_AFTER_FINISHED + 1 }, `spec.ttlSecondsAfterFinished in body should be less than or equal to ${MAX_TTL_SECONDS_AFTER_FINISHED}`],
    ["a TTL of 2^62 seconds", { ttlSecondsAfterFinished: 2 ** 62 }, `should be less than or equal to ${MAX_TTL_SECONDS_AFTER_FINISHED}`],
    ["a start deadline over 7 days", { startDeadlineSeconds: 3_000_000 }, `spec.startDeadlineSeconds in body should be less than or equal to ${MAX_START_DEADLINE_SECONDS}`],
    ["a timeout over a day", { timeoutSeconds: MAX_TIMEOUT_SECONDS + 1 }, `spec.timeoutSeconds in body should be less than or equal to ${MAX_TIMEOUT_SECONDS}`],
    // No object or list passes "at most 0 and at least 1 members": the schema's own words.
    ["an object param", { params: { strength: { nested: 1 } } }, "spec.params.strength: Too many: 1: must have at most 0 items"],
    ["an empty object param", { params: { strength: {} } }, "spec.params.strength in body should have at least 1 properties"],
    ["a list param", { params: { strength: [0.5] } }, "spec.params.strength: Too many: 1: must have at most 0 items"],
    ["an empty list param", { params: { strength: [] } }, "spec.params.strength in body should have at least 1 items"],
    ["a param nested deep", { params: { strength: deepList(200) } }, "spec.params.strength: Too many: 1: must have at most 0 items"],
    ["a string param over 4096 characters", { params: { note: "x".repeat(MAX_PARAM_STRING_LENGTH + 1) } }, `spec.params.note: Too long: may not be more than ${MAX_PARAM_STRING_LENGTH}`],
  ])("an ImageJob with %s", async (_, spec, message) => {
    await expectRefused(create(job(uniqueName("over"), spec as Partial<ImageJobSpec>)), message);
  });

  it("nothing at the limits: scalar params and the longest TTL, start deadline and timeout", async () => {
    const params = { strength: 0.5, steps: 3, sharp: true, note: "x".repeat(MAX_PARAM_STRING_LENGTH) };
    const spec = { params, ttlSecondsAfterFinished: MAX_TTL_SECONDS_AFTER_FINISHED, startDeadlineSeconds: MAX_START_DEADLINE_SECONDS, timeoutSeconds: MAX_TIMEOUT_SECONDS };
    await create(job("at-limits", spec));
    expect((await get<ImageJob>("ImageJob", "at-limits")).spec).toMatchObject(spec);
  });

  it("changing spec.model or spec.input of an ImageJob", async () => {
    await create(job("immutable"));
    const patch = (spec: Partial<ImageJobSpec>) =>
      custom.patchNamespacedCustomObject({ ...at("ImageJob", "immutable"), body: { spec } }, mergePatch);
    await expectRefused(patch({ model: "upscale-x4" }), "spec.model is immutable");
    await expectRefused(patch({ input: { uri: "s3://pixelmill/dog.png" } }), "spec.input is immutable");
  });

  it("an ImageModel from s3:// without sha256", async () => {
    const model: ImageModel = {
      apiVersion: API_VERSION,
      kind: "ImageModel",
      metadata: { name: "unpinned" },
      spec: {
        source: { uri: "s3://models/upscale.onnx" },
        task: "image-to-image",
        input: { range: { min: 0, max: 1 } },
        output: { kind: "image" },
      },
    };
    await expectRefused(create(model), "spec.source.sha256 is required unless spec.source.uri uses builtin:");
  });

  const model = (name: string, spec: Partial<ImageModel["spec"]>): ImageModel => ({
    apiVersion: API_VERSION,
    kind: "ImageModel",
    metadata: { name },
    spec: { source: { uri: "builtin:ocr-detector" }, task: "image-to-text", output: { kind: "json" }, input: { range: { min: 0, max: 1 } }, ...spec },
  });

  it.each([
    ["a json output for an image task", { task: "image-to-image" as const }, "spec.output.kind must be image for task image-to-image"],
    ["an image output for image-to-text", { output: { kind: "image" as const } }, "spec.output.kind must be json for task image-to-text"],
    ["an unpinned s3:// component", { components: { recognizer: { uri: "s3://models/rec.onnx" } } }, "a component's sha256 is required unless its uri uses builtin:"],
    ["a component with an http: uri", { components: { recognizer: { uri: "http://example.com/rec.onnx", sha256: "a".repeat(64) } } }, "a component's uri must use one of the schemes"],
    ["a component named in capitals", { components: { Recognizer: { uri: "builtin:ocr-recognizer" } } }, "spec.components names must be lowercase letters"],
    ["an enum on a number param", { params: [{ name: "t", type: "number" as const, enum: ["1"] }] }, "param t: enum applies only to string params"],
    ["an empty enum", { params: [{ name: "s", type: "string" as const, enum: [] }] }, "spec.params[0].enum in body should have at least 1 items"],
    ["a repeated enum value", { params: [{ name: "s", type: "string" as const, enum: ["a", "a"] }] }, "spec.params[0].enum[1]: Duplicate value"],
    ["an enum value over 256 characters", { params: [{ name: "s", type: "string" as const, enum: ["x".repeat(257)] }] }, "spec.params[0].enum[0]: Too long: may not be more than 256"],
  ])("an ImageModel with %s", async (_, spec, message) => {
    await expectRefused(create(model(uniqueName("bad-model"), spec)), message);
  });

  it("nothing wrong with a model of several pinned files and a json output", async () => {
    const components = { recognizer: { uri: "s3://models/rec.onnx", sha256: "b".repeat(64) }, charset: { uri: "builtin:ocr-charset" } };
    await create(model("several-files", { components }));
    expect((await get<ImageModel>("ImageModel", "several-files")).spec.components).toEqual(components);
  });

  it("nothing wrong with a string param's enum", async () => {
    const params = [{ name: "scheduler", type: "string" as const, default: "euler", enum: ["euler", "lcm"] }];
    await create(model("enum-param", { params }));
    expect((await get<ImageModel>("ImageModel", "enum-param")).spec.params).toEqual(params);
  });

  it("an ImageModel's batching beyond its bounds, and its defaults filled in", async () => {
    await create(model("batching", { batching: { maxBatchSize: 8 } }));
    expect((await get<ImageModel>("ImageModel", "batching")).spec.batching).toEqual({ maxBatchSize: 8, maxDelayMs: 5 });
    await expectRefused(create(model(uniqueName("bad-batch"), { batching: { maxBatchSize: 65 } })), "spec.batching.maxBatchSize in body should be less than or equal to 64");
    await expectRefused(create(model(uniqueName("bad-batch"), { batching: { maxDelayMs: -1 } })), "spec.batching.maxDelayMs in body should be greater than or equal to 0");
  });

  it("a WorkerPool with minReplicas above maxReplicas", async () => {
    const pool: WorkerPool = {
      apiVersion: API_VERSION,
      kind: "WorkerPool",
      metadata: { name: "upside-down" },
      spec: { image: "worker:1", models: ["resize-x2"], autoscaling: { minReplicas: 5, maxReplicas: 2 } },
    };
    await expectRefused(create(pool), "spec.autoscaling.minReplicas must not be greater than spec.autoscaling.maxReplicas");
  });
});

describe("installed CRDs", () => {
  it.each([
    ["imagejobs.pixelmill.io", "ij", ["Model", "Phase", "Attempts", "Age"]],
    ["imagemodels.pixelmill.io", "im", ["Task", "Source", "License", "Age"]],
    ["workerpools.pixelmill.io", "wp", ["GPU", "Min", "Max", "Waiting", "InFlight", "Desired", "Ready", "Pending", "Scaled", "Age", "Reason"]],
  ])("%s has its names, status subresource and printer columns", async (name, shortName, columns) => {
    const crd = await kubeConfig().makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name });
    expect(crd.spec.names.shortNames).toEqual([shortName]);
    expect(crd.spec.names.categories).toEqual(["pixelmill"]);
    const version = crd.spec.versions.find((v) => v.name === VERSION);
    expect(version?.storage).toBe(true);
    expect(version?.subresources?.status).toEqual({});
    expect(version?.subresources?.scale).toBeUndefined();
    expect(version?.additionalPrinterColumns?.map((c) => c.name)).toEqual(columns);
  });

  it("shows an ImageModel's task, and its licence with -o wide (the Table kubectl asks the apiserver for)", async () => {
    const model = await manifest("text-detect");
    const name = uniqueName("provenance");
    await custom.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: ns, plural: IMAGEMODEL_PLURAL, body: { ...model, metadata: { name, namespace: ns } },
    });
    const table = (await custom.listNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: IMAGEMODEL_PLURAL, fieldSelector: `metadata.name=${name}` },
      setHeaderOptions("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"),
    )) as { columnDefinitions: Array<{ name: string; priority: number }>; rows: Array<{ cells: unknown[] }> };
    // Priority 1: only `-o wide` shows the column.
    expect(table.columnDefinitions.map((c) => [c.name, c.priority])).toEqual([["Name", 0], ["Task", 0], ["Source", 0], ["License", 1], ["Age", 0]]);
    expect(table.rows.map((r) => r.cells.slice(0, 4))).toEqual([[name, "image-to-mask", "builtin:text-detect", "MIT AND Apache-2.0"]]);
  });
});
