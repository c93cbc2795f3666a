import { describe, expect, it } from "vitest";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { expectRefused, imageJobNamespace } from "../support/crd-checks.js";
import { API_VERSION, type ImageJob, type ImageJobSpec } from "../../common/crd-types.js";

// spec.webhook as the apiserver checks it (crds/imagejobs.pixelmill.io.yaml); the address policy is
// the API's and the sender's (docs/webhooks.md).

const { custom, where } = imageJobNamespace("crds-webhook");

function create(name: string, webhook: unknown): Promise<ImageJob> {
  const spec = { model: "resize-x2", input: { uri: "s3://pixelmill/in/cat.png" }, webhook } as ImageJobSpec;
  return custom().createNamespacedCustomObject({ ...where(), body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec } }) as Promise<ImageJob>;
}

describe("spec.webhook", () => {
  it("defaults its events to queued, running and completed", async () => {
    const job = await create("defaulted", { url: "https://hooks.example.com/x" });
    expect(job.spec.webhook).toEqual({ url: "https://hooks.example.com/x", events: ["queued", "running", "completed"] });
  });

  it("refuses a URL that is not http(s), unknown or repeated events, none, and more than four", async () => {
    await expectRefused(create("ftp", { url: "ftp://hooks.example.com/x" }), "spec.webhook.url must be an https:// URL");
    await expectRefused(create("no-url", { events: ["completed"] }), "spec.webhook.url: Required value");
    await expectRefused(create("unknown", { url: "https://h.example.com/", events: ["finished"] }), "Unsupported value: \"finished\"");
    await expectRefused(create("repeated", { url: "https://h.example.com/", events: ["completed", "completed"] }), "Duplicate value");
    await expectRefused(create("none", { url: "https://h.example.com/", events: [] }), "should have at least 1 items");
  });

  it("is immutable", async () => {
    await create("fixed", { url: "https://hooks.example.com/a", events: ["completed"] });
    const patch = custom().patchNamespacedCustomObject(
      { ...where(), name: "fixed", body: { spec: { webhook: { url: "https://hooks.example.com/b", events: ["completed"] } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await expectRefused(patch, "spec.webhook is immutable");
  });
});
