import { describe, expect, it } from "vitest";
import type { ImageJob } from "../../../common/crd-types.js";
import { batchEndStatus, batchProgressStatus, isBatchDone } from "./batch-status.js";
import { sumUsage } from "./batch-items.js";

const now = new Date("2026-12-01T10:00:00Z");
const job: ImageJob = { apiVersion: "pixelmill.io/v1alpha1", kind: "ImageJob", metadata: { name: "b", generation: 1 }, spec: { model: "m", batch: { prefix: "s3://b/p/" } } };
const manifest = { uri: "s3://b/outputs/ns/b/u/manifest.jsonl", contentType: "application/x-ndjson", bytes: 10 };

describe("batch status", () => {
  it("is Queued until an item starts, then Running with the counts", () => {
    expect(batchProgressStatus(job, { total: 3, succeeded: 0, failed: 0, running: 0, canceled: 0 }, now)).toMatchObject({ phase: "Queued", batch: { total: 3, running: 0 } });
    const running = batchProgressStatus(job, { total: 3, succeeded: 0, failed: 0, running: 1, canceled: 0 }, now);
    expect(running).toMatchObject({ phase: "Running", startedAt: "2026-12-01T10:00:00Z", batch: { total: 3, succeeded: 0, failed: 0, running: 1 } });
    expect(running.batch).not.toHaveProperty("canceled");
  });

  it("is done when every item finished, whichever way", () => {
    expect(isBatchDone({ total: 3, succeeded: 1, failed: 1, running: 1, canceled: 0 })).toBe(false);
    expect(isBatchDone({ total: 3, succeeded: 1, failed: 1, running: 0, canceled: 1 })).toBe(true);
  });

  it("ends Succeeded with ItemsFailed when some items failed, and the manifest as output", () => {
    const end = batchEndStatus(job, { total: 3, succeeded: 2, failed: 1, running: 1 }, manifest, now);
    expect(end).toMatchObject({ phase: "Succeeded", output: manifest, batch: { total: 3, succeeded: 2, failed: 1, running: 0 }, finishedAt: "2026-12-01T10:00:00Z" });
    expect(end.conditions?.find((c) => c.type === "ItemsFailed")).toMatchObject({ status: "True", message: "1 of 3 items failed" });
    expect(end.reason).toBeUndefined();
  });

  it("ends Succeeded without ItemsFailed when all succeeded", () => {
    const end = batchEndStatus(job, { total: 2, succeeded: 2, failed: 0, running: 0 }, manifest, now);
    expect(end.phase).toBe("Succeeded");
    expect(end.conditions?.map((c) => c.type)).not.toContain("ItemsFailed");
  });

  it("ends Failed when no item succeeded", () => {
    const end = batchEndStatus(job, { total: 2, succeeded: 0, failed: 1, running: 0, canceled: 1 }, manifest, now);
    expect(end).toMatchObject({ phase: "Failed", reason: "ItemsFailed", batch: { canceled: 1 } });
    expect(end.message).toContain("none of the 2 items succeeded");
  });
});

describe("sumUsage", () => {
  it("adds the items' run and GPU seconds to the millisecond and keeps the most GPUs of any", () => {
    const usage = sumUsage([{ runSeconds: 0.0411, gpus: 1, gpuSeconds: 0.0411 }, { runSeconds: 1.2, gpus: 2, gpuSeconds: 2.4 }, { runSeconds: 0, gpus: 0, gpuSeconds: 0 }]);
    expect(usage).toEqual({ runSeconds: 1.241, gpus: 2, gpuSeconds: 2.441 });
  });
});
