import { describe, it, expect } from "vitest";
import {
  conditionChanged,
  findCondition,
  isConditionFalse,
  isConditionTrue,
  removeCondition,
  rfc3339Seconds,
  setCondition,
} from "./conditions.js";
import type { Condition } from "./crd-types.js";

const t0 = new Date("2026-01-02T03:04:05.678Z");
const t1 = new Date("2026-01-02T03:09:00.000Z");

const ready: Condition = {
  type: "Ready",
  status: "False",
  reason: "Pending",
  message: "waiting for a worker",
  lastTransitionTime: "2026-01-02T03:04:05Z",
  observedGeneration: 1,
};

describe("setCondition", () => {
  it("adds a condition with the injected time, in whole seconds", () => {
    const result = setCondition(undefined, { type: "Ready", status: "True", reason: "Done", message: "" }, t0);
    expect(result).toEqual([
      { type: "Ready", status: "True", reason: "Done", message: "", lastTransitionTime: "2026-01-02T03:04:05Z" },
    ]);
  });

  it("appends a new type after the existing ones without touching them", () => {
    const before = [ready];
    const result = setCondition(before, { type: "Queued", status: "True", reason: "Enqueued", message: "" }, t1);
    expect(result.map((c) => c.type)).toEqual(["Ready", "Queued"]);
    expect(result[0]).toBe(ready);
    expect(before).toEqual([ready]);
  });

  it("keeps lastTransitionTime when the status is the same, and takes the new reason and message", () => {
    const result = setCondition(
      [ready],
      { type: "Ready", status: "False", reason: "NoCapacity", message: "no GPU node", observedGeneration: 2 },
      t1,
    );
    expect(result).toEqual([
      {
        type: "Ready",
        status: "False",
        reason: "NoCapacity",
        message: "no GPU node",
        lastTransitionTime: ready.lastTransitionTime,
        observedGeneration: 2,
      },
    ]);
  });

  it("moves lastTransitionTime when the status changes", () => {
    const result = setCondition([ready], { type: "Ready", status: "True", reason: "Running", message: "" }, t1);
    expect(findCondition(result, "Ready")).toMatchObject({
      status: "True",
      reason: "Running",
      lastTransitionTime: "2026-01-02T03:09:00Z",
      observedGeneration: 1,
    });
  });

  it("uses an explicit lastTransitionTime only on a transition", () => {
    const explicit = "2025-12-31T23:59:59Z";
    const same = setCondition([ready], { ...ready, lastTransitionTime: explicit }, t1);
    expect(same[0]?.lastTransitionTime).toBe(ready.lastTransitionTime);
    const changed = setCondition([ready], { ...ready, status: "Unknown", lastTransitionTime: explicit }, t1);
    expect(changed[0]?.lastTransitionTime).toBe(explicit);
  });

  it("replaces in place, keeping the order of the list", () => {
    const other: Condition = { ...ready, type: "Degraded" };
    const result = setCondition([ready, other], { ...ready, status: "True" }, t1);
    expect(result.map((c) => c.type)).toEqual(["Ready", "Degraded"]);
    expect(result[1]).toBe(other);
  });
});

describe("removeCondition", () => {
  it("drops the given type and returns a copy", () => {
    const before = [ready, { ...ready, type: "Degraded" }];
    expect(removeCondition(before, "Ready").map((c) => c.type)).toEqual(["Degraded"]);
    expect(before).toHaveLength(2);
  });

  it("is harmless when the type is absent", () => {
    expect(removeCondition(undefined, "Ready")).toEqual([]);
    expect(removeCondition([ready], "Missing")).toEqual([ready]);
  });
});

describe("reading conditions", () => {
  it("finds by type and reads the status", () => {
    expect(findCondition([ready], "Ready")).toBe(ready);
    expect(findCondition([ready], "Missing")).toBeUndefined();
    expect(isConditionTrue([ready], "Ready")).toBe(false);
    expect(isConditionFalse([ready], "Ready")).toBe(true);
    expect(isConditionTrue([{ ...ready, status: "True" }], "Ready")).toBe(true);
    expect(isConditionTrue(undefined, "Ready")).toBe(false);
    expect(isConditionFalse([{ ...ready, status: "Unknown" }], "Ready")).toBe(false);
  });
});

describe("conditionChanged", () => {
  it("is false only when setCondition would write the same thing", () => {
    expect(conditionChanged([ready], { ...ready })).toBe(false);
    expect(conditionChanged([ready], { ...ready, observedGeneration: undefined })).toBe(false);
    expect(conditionChanged([ready], { ...ready, message: "other" })).toBe(true);
    expect(conditionChanged([ready], { ...ready, status: "True" })).toBe(true);
    expect(conditionChanged([ready], { ...ready, observedGeneration: 2 })).toBe(true);
    expect(conditionChanged(undefined, ready)).toBe(true);
  });
});

describe("rfc3339Seconds", () => {
  it("drops the milliseconds as metav1.Time does", () => {
    expect(rfc3339Seconds(t0)).toBe("2026-01-02T03:04:05Z");
  });
});
