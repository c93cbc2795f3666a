import { describe, expect, it } from "vitest";
import type { ImageJob } from "../../../common/crd-types.js";
import { deadlineExceededStatus, msToStartDeadline, NO_WORKER_POOL, statusFromQueue } from "./imagejob-status.js";

const job = (spec: Partial<ImageJob["spec"]> = {}, created: unknown = "2026-11-24T10:00:00Z"): ImageJob => ({
  apiVersion: "pixelmill.io/v1alpha1", kind: "ImageJob",
  metadata: { name: "j", namespace: "ns", uid: "u", generation: 1, creationTimestamp: created as Date },
  spec: { model: "m", input: { uri: "s3://b/k.png" }, ...spec },
});
const at = (iso: string) => new Date(iso);

describe("msToStartDeadline", () => {
  it("counts down from creation + startDeadlineSeconds, then stays at 0", () => {
    const j = job({ startDeadlineSeconds: 30 });
    expect(msToStartDeadline(j, 0, at("2026-11-24T10:00:10Z"))).toBe(20_000);
    expect(msToStartDeadline(j, 0, at("2026-11-24T10:00:30Z"))).toBe(0);
    expect(msToStartDeadline(j, 0, at("2026-11-24T11:00:00Z"))).toBe(0);
  });

  it("reads a creationTimestamp given as a Date as well as a string", () => {
    expect(msToStartDeadline(job({ startDeadlineSeconds: 30 }, new Date("2026-11-24T10:00:00Z")), 0, at("2026-11-24T10:00:10Z"))).toBe(20_000);
  });

  it("does not apply to a job without a deadline, or one that has started (a retry in backoff included)", () => {
    expect(msToStartDeadline(job(), 0, at("2026-11-24T11:00:00Z"))).toBeUndefined();
    expect(msToStartDeadline(job({ startDeadlineSeconds: 30 }), 1, at("2026-11-24T11:00:00Z"))).toBeUndefined();
  });
});

describe("deadlineExceededStatus", () => {
  it("is Failed with reason DeadlineExceeded, a Failed condition and no attempts", () => {
    const now = at("2026-11-24T10:00:31Z");
    const s = deadlineExceededStatus({ ...job({ startDeadlineSeconds: 30 }), status: { phase: "Queued", attempts: 0, queuedAt: "2026-11-24T10:00:01Z" } }, now);
    expect(s).toMatchObject({ phase: "Failed", reason: "DeadlineExceeded", attempts: 0, queuedAt: "2026-11-24T10:00:01Z", finishedAt: "2026-11-24T10:00:31Z", observedGeneration: 1 });
    expect(s.message).toBe("not started within startDeadlineSeconds (30 s)");
    expect(s.conditions).toEqual([expect.objectContaining({ type: "Failed", status: "True", reason: "DeadlineExceeded" })]);
  });
});

describe("statusFromQueue for a model no WorkerPool serves", () => {
  const now = at("2026-11-24T10:00:05Z");
  const waiting = { state: "waiting" as const, attemptsMade: 0, attemptsStarted: 0 };
  const unserved = "no WorkerPool lists model m in spec.models: the job waits until one does";

  it("says why a waiting job waits, and stops saying it once a pool serves the model", () => {
    const queued = statusFromQueue(job(), waiting, now, unserved);
    expect(queued).toMatchObject({ phase: "Queued", reason: NO_WORKER_POOL, message: unserved });
    const served = statusFromQueue({ ...job(), status: queued }, waiting, now);
    expect(served.phase).toBe("Queued");
    expect(served.reason).toBeUndefined();
    expect(served.message).toBeUndefined();
  });

  it("clears the reason when a worker takes the job", () => {
    const queued = statusFromQueue(job(), waiting, now, unserved);
    const running = statusFromQueue({ ...job(), status: queued }, { ...waiting, state: "active", attemptsStarted: 1, processedOn: now.getTime() }, now);
    expect(running).toMatchObject({ phase: "Running" });
    expect(running.reason).toBeUndefined();
  });

  it("still shows a failed attempt's reason first while the job waits for its retry", () => {
    const retry = { ...waiting, state: "delayed" as const, attemptsMade: 1, attemptsStarted: 1, failedReason: "InferenceError: boom" };
    expect(statusFromQueue(job(), retry, now, unserved)).toMatchObject({ phase: "Queued", reason: "InferenceError" });
  });
});
