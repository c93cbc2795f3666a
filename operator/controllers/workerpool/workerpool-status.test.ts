import { describe, expect, it } from "vitest";
import type { WorkerPoolStatus } from "../../../common/crd-types.js";
import { statusWriteDue } from "./workerpool-status.js";

const capacity = (message: string, status: "True" | "False" = "False") =>
  ({ type: "CapacityLimited", status, reason: status === "True" ? "MaxReplicasReached" : "WithinLimits", message, lastTransitionTime: "2026-12-01T10:00:00Z" });
const status = (over: Partial<WorkerPoolStatus> = {}, message = "demand asks for 2 of at most 8 replicas"): WorkerPoolStatus =>
  ({ waiting: 3, inFlight: 1, desiredReplicas: 2, replicas: 2, readyReplicas: 2, pendingReplicas: 0, conditions: [capacity(message)], ...over });

describe("statusWriteDue", () => {
  const now = 10_000;

  it("writes nothing when nothing changed", () => {
    expect(statusWriteDue(status(), status(), now - 100, now, 2000)).toBeUndefined();
  });

  it("coalesces queue depth and a condition's message that quotes the demand to one write per interval", () => {
    const next = status({ waiting: 9, inFlight: 2 }, "demand asks for 3 of at most 8 replicas");
    expect(statusWriteDue(status(), next, now - 500, now, 2000)).toBe(1500);
    expect(statusWriteDue(status(), next, now - 2500, now, 2000)).toBe(0);
    expect(statusWriteDue(status(), status({}, "demand asks for 3 of at most 8 replicas"), now - 500, now, 2000)).toBe(1500);
  });

  it("writes at once when replicas or a condition's status change", () => {
    expect(statusWriteDue(status(), status({ desiredReplicas: 3 }), now - 100, now, 2000)).toBe(0);
    expect(statusWriteDue(status(), status({ conditions: [capacity("demand asks for 9 replicas; maxReplicas is 8", "True")] }), now - 100, now, 2000)).toBe(0);
  });
});
