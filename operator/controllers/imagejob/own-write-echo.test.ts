import { describe, expect, it } from "vitest";
import type { ImageJob, ImageJobStatus, ImageModel } from "../../../common/crd-types.js";
import type { Informer } from "../../../common/kube/informer.js";
import { createLogger } from "../../../common/logger.js";
import type { JobQueue, QueueJobView } from "../../job-queue.js";
import type { ImageJobApi } from "./imagejob-api.js";
import { ImageJobReconciler } from "./imagejob-reconciler.js";

const model: ImageModel = {
  apiVersion: "pixelmill.io/v1alpha1", kind: "ImageModel", metadata: { namespace: "ns", name: "grayscale", resourceVersion: "7" },
  spec: { source: { uri: "builtin:grayscale" }, task: "image-to-image", output: { kind: "image", scale: 1 } },
};
const job: ImageJob = {
  apiVersion: "pixelmill.io/v1alpha1", kind: "ImageJob",
  metadata: { namespace: "ns", name: "j", uid: "uid-j", resourceVersion: "10", creationTimestamp: new Date() },
  spec: { model: "grayscale", input: { uri: "s3://pixelmill/inputs/cat.png" } },
};
const at = (rv: string): ImageJob => ({ ...job, metadata: { ...job.metadata, resourceVersion: rv } });

function cache<T extends { metadata: { namespace?: string; name?: string } }>(items: T[]): Informer<T> {
  return {
    get: (ns, name) => items.find((i) => i.metadata.namespace === ns && i.metadata.name === name),
    list: () => items, start: () => Promise.resolve(), stop: () => Promise.resolve(),
  };
}

/** A reconciler whose status writes answer when the test says, with resourceVersion `rv`. */
function setup() {
  const requeued: string[] = [];
  const writes: Array<{ answer: (rv: string) => void }> = [];
  const view: QueueJobView = { state: "waiting", attemptsMade: 0, attemptsStarted: 0 };
  const queue = { get: () => Promise.resolve(view) } as unknown as JobQueue;
  const api = {
    writeStatus: (j: ImageJob, status: ImageJobStatus) => new Promise<ImageJob>((resolve) => {
      writes.push({ answer: (rv) => resolve({ ...j, metadata: { ...j.metadata, resourceVersion: rv }, status }) });
    }),
    recordEvent: () => Promise.resolve(),
  } as unknown as ImageJobApi;
  const reconciler = new ImageJobReconciler({
    jobs: cache([job]), models: cache([model]), api, queue, log: createLogger({ level: "silent" }), requeue: (k) => requeued.push(k),
  });
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setImmediate(r));
    expect(check()).toBe(true);
  };
  return { reconciler, writes, requeued, until };
}

describe("the echo of the operator's own status write", () => {
  it("is not reconciled again, whether the watch brings it after the write's answer or before", async () => {
    const { reconciler, writes, requeued, until } = setup();
    expect(reconciler.isOwnWrite(at("10"))).toBe(false); // no write yet: every event is reconciled
    let done = reconciler.reconcile("ns/j");
    await until(() => writes.length === 1);
    writes[0]!.answer("11");
    await done;
    expect(reconciler.isOwnWrite(at("11"))).toBe(true);
    expect(reconciler.isOwnWrite(at("11"))).toBe(false); // once only
    expect(reconciler.isOwnWrite(at("12"))).toBe(false); // someone else's change

    // The watch is quicker than the write's answer: the event is held, then dropped as the echo.
    const fresh = setup();
    done = fresh.reconciler.reconcile("ns/j");
    await fresh.until(() => fresh.writes.length === 1);
    expect(fresh.reconciler.isOwnWrite(at("11"))).toBe(true);
    fresh.writes[0]!.answer("11");
    await done;
    expect(fresh.requeued).toEqual([]);
    expect(requeued).toEqual([]);
  });

  it("holds another change that comes during the write, and adds its key once the write has answered", async () => {
    const { reconciler, writes, requeued, until } = setup();
    const done = reconciler.reconcile("ns/j");
    await until(() => writes.length === 1);
    expect(reconciler.isOwnWrite(at("11"))).toBe(true); // held
    expect(requeued).toEqual([]);
    writes[0]!.answer("12");
    await done;
    expect(requeued).toEqual(["ns/j"]);
    expect(reconciler.isOwnWrite(at("12"))).toBe(true); // the echo, when it comes
  });
});
