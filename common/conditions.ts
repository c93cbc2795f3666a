import type { Condition } from "./crd-types.js";

/** A condition to set; lastTransitionTime is filled in from `now` when the status changes. */
export type ConditionUpdate = Omit<Condition, "lastTransitionTime"> & { lastTransitionTime?: string };

/**
 * metav1.Time is serialised with whole seconds; matching it keeps our writes byte-equal to what
 * Go controllers and kubectl produce, so a re-read does not look like a change.
 */
export function rfc3339Seconds(time: Date): string {
  return time.toISOString().replace(/\.\d+Z$/, "Z");
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}

export function isConditionFalse(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "False";
}

/**
 * Returns a copy of `conditions` with `next` set, replacing any condition of the same type in place.
 * lastTransitionTime moves only when status changes, so it tells when the state was entered,
 * not when a controller last looked (as apimachinery's meta.SetStatusCondition does).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionUpdate,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const index = list.findIndex((c) => c.type === next.type);
  const existing = index >= 0 ? list[index] : undefined;
  const transitioned = existing === undefined || existing.status !== next.status;
  const lastTransitionTime = transitioned
    ? (next.lastTransitionTime ?? rfc3339Seconds(now))
    : existing.lastTransitionTime;

  const merged: Condition = {
    type: next.type,
    status: next.status,
    lastTransitionTime,
    reason: next.reason,
    message: next.message,
  };
  const observedGeneration = next.observedGeneration ?? existing?.observedGeneration;
  if (observedGeneration !== undefined) merged.observedGeneration = observedGeneration;

  if (index < 0) return [...list, merged];
  return list.map((c, i) => (i === index ? merged : c));
}

/** Returns a copy of `conditions` without the condition of the given type. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/**
 * Whether setCondition would change anything, so a caller can skip a status write:
 * writes to the apiserver are the budget we spend most carefully.
 */
export function conditionChanged(conditions: readonly Condition[] | undefined, next: ConditionUpdate): boolean {
  const existing = findCondition(conditions, next.type);
  if (existing === undefined) return true;
  return (
    existing.status !== next.status ||
    existing.reason !== next.reason ||
    existing.message !== next.message ||
    (next.observedGeneration !== undefined && existing.observedGeneration !== next.observedGeneration)
  );
}
