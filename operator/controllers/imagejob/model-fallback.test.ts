import { describe, expect, it } from "vitest";
import type { ImageJob, ImageJobStatus, ImageModel } from "../../../common/crd-types.js";
import type { Informer } from "../../../common/kube/informer.js";
import { createLogger } from "../../../common/logger.js";
import type { QueueJobData } from "../../../common/queue.js";
import type { JobQueue } from "../../job-queue.js";
import type { ImageJobApi } from "./imagejob-api.js";
import { ImageJobReconciler } from "./imagejob-reconciler.js";

/** A cache holding fixed objects, by namespace/name. */
function cache<T extends { metadata: { namespace?: string; name?: string } }>(items: T[]): Informer<T> {
  return {
    get: (ns, name) => items.find((i) => i.metadata.namespace === ns && i.metadata.name === name),
    list: (ns) => items.filter((i) => ns === undefined || i.metadata.namespace === ns),
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}

const model = (namespace: string, task: string): ImageModel => ({
  apiVersion: "pixelmill.io/v1alpha1", kind: "ImageModel", metadata: { namespace, name: "resize-x2", resourceVersion: "7" },
  spec: { source: { uri: `builtin:${task}` }, task: "image-to-image", output: { kind: "image", scale: 2 } },
});

const job = (namespace: string): ImageJob => ({
  apiVersion: "pixelmill.io/v1alpha1", kind: "ImageJob",
  metadata: { namespace, name: "j", uid: `uid-${namespace}`, resourceVersion: "1", creationTimestamp: new Date() },
  spec: { model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" } },
});

/** Reconciles the job of `namespace` with these models; what was enqueued, or the status written. */
async function reconcile(namespace: string, models: ImageModel[]): Promise<{ enqueued?: QueueJobData; status?: ImageJobStatus }> {
  const out: { enqueued?: QueueJobData; status?: ImageJobStatus } = {};
  const queue = {
    get: () => Promise.resolve(undefined),
    enqueue: (data: QueueJobData) => {
      out.enqueued = data;
      return Promise.resolve();
    },
  } as unknown as JobQueue;
  const api = {
    writeStatus: (j: ImageJob, status: ImageJobStatus) => {
      out.status = status;
      return Promise.resolve({ ...j, status });
    },
    recordEvent: () => Promise.resolve(),
  } as unknown as ImageJobApi;
  const reconciler = new ImageJobReconciler({ jobs: cache([job(namespace)]), models: cache(models), platformNamespace: "platform", api, queue, log: createLogger({ level: "silent" }) });
  await reconciler.reconcile(`${namespace}/j`);
  return out;
}

describe("ImageModels of a tenant's job (ADR 0007)", () => {
  it("come from the platform namespace when the tenant has none of that name", async () => {
    const { enqueued } = await reconcile("tenant-a", [model("platform", "resize-x2")]);
    expect(enqueued?.modelSpec.source.uri).toBe("builtin:resize-x2");
  });

  it("are the tenant's own when it has one of that name", async () => {
    const { enqueued } = await reconcile("tenant-a", [model("platform", "resize-x2"), model("tenant-a", "grayscale")]);
    expect(enqueued?.modelSpec.source.uri).toBe("builtin:grayscale");
  });

  it("fail the spec when neither has it, saying where it looked", async () => {
    const { enqueued, status } = await reconcile("tenant-a", [model("tenant-b", "resize-x2")]);
    expect(enqueued).toBeUndefined();
    expect(status).toMatchObject({ phase: "Failed", reason: "InvalidSpec" });
    expect(status?.message).toMatch(/not found in namespace tenant-a nor in the platform namespace platform/);
  });
});
