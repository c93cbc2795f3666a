import { describe, expect, it } from "vitest";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { expectRefused, imageJobNamespace } from "../support/crd-checks.js";
import { uniqueName } from "../support/env.js";
import { API_VERSION, type ImageJob, type ImageJobSpec } from "../../common/crd-types.js";
import { DEFAULT_BATCH_MAX_ITEMS } from "../../common/batch.js";

// spec.batch as the apiserver checks it (crds/imagejobs.pixelmill.io.yaml): the shape and URIs; the
// operator checks the rest (grants, the model's task, the item count after a prefix is listed).

const { custom, where } = imageJobNamespace("crds-batch");
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

function create(name: string, spec: Partial<ImageJobSpec>): Promise<ImageJob> {
  const body: ImageJob = { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec: { model: "resize-x2", ...spec } };
  return custom().createNamespacedCustomObject({ ...where(), body }) as Promise<ImageJob>;
}

describe("spec.batch", () => {
  it("takes a list of the most items, each as spec.input.uri takes one", async () => {
    const inputs = Array.from({ length: DEFAULT_BATCH_MAX_ITEMS }, (_, i) => `s3://pixelmill/in/${i}.png`);
    inputs[1] = "upload:uploads/x/a.b/c.png";
    inputs[2] = "https://example.com/cat.png?x=1";
    const job = await create("list", { batch: { inputs } });
    expect(job.spec.batch?.inputs).toHaveLength(DEFAULT_BATCH_MAX_ITEMS);
  });

  it("takes a prefix with a glob, and a prefix alone", async () => {
    await create("prefix-glob", { batch: { prefix: "s3://pixelmill/in/cats/", glob: "**/*.png" } });
    await create("upload-prefix", { batch: { prefix: "upload:uploads/team/2026/" } });
    await create("bucket-root", { batch: { prefix: "s3://pixelmill/" } });
  });

  it.each([
    ["input and batch", { input: { uri: "s3://pixelmill/a.png" }, batch: { inputs: ["s3://pixelmill/b.png"] } }, "spec.input and spec.batch are mutually exclusive"],
    ["neither inputs nor prefix", { batch: {} }, "spec.batch needs exactly one of inputs or prefix"],
    ["both inputs and prefix", { batch: { inputs: ["s3://pixelmill/b.png"], prefix: "s3://pixelmill/in/" } }, "exactly one of inputs or prefix"],
    ["a glob without a prefix", { batch: { inputs: ["s3://pixelmill/b.png"], glob: "*.png" } }, "spec.batch.glob filters a prefix"],
    ["an empty list", { batch: { inputs: [] } }, "spec.batch.inputs in body should have at least 1 items"],
    ["a file: item", { batch: { inputs: ["s3://pixelmill/b.png", "file:///etc/passwd"] } }, "spec.batch.inputs[1] in body should match"],
    ["an upload: item climbing out", { batch: { inputs: ["upload:uploads/x/../y/a.png"] } }, "spec.batch.inputs[0] in body should match"],
    ["an http: item", { batch: { inputs: ["http://example.com/a.png"] } }, "spec.batch.inputs[0] in body should match"],
    ["a prefix not ending in /", { batch: { prefix: "s3://pixelmill/in" } }, "spec.batch.prefix must look like"],
    ["an https prefix", { batch: { prefix: "https://example.com/in/" } }, "spec.batch.prefix must look like"],
    ["a prefix climbing out", { batch: { prefix: "upload:uploads/x/../" } }, "spec.batch.prefix must look like"],
  ])("refuses %s", async (_, spec, message) => {
    await expectRefused(create(uniqueName("bad"), spec), message);
  });

  it("refuses a list over the limit", async () => {
    const inputs = Array.from({ length: DEFAULT_BATCH_MAX_ITEMS + 1 }, (_, i) => `s3://pixelmill/${i}.png`);
    await expectRefused(create("too-many", { batch: { inputs } }), "spec.batch.inputs: Too many");
  });

  it("is immutable", async () => {
    await create("immutable", { batch: { prefix: "s3://pixelmill/in/" } });
    const body = { spec: { batch: { prefix: "s3://pixelmill/other/" } } };
    await expectRefused(custom().patchNamespacedCustomObject({ ...where(), name: "immutable", body }, mergePatch), "spec.batch is immutable");
  });
});
