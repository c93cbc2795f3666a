import { isDeepStrictEqual } from "node:util";
import type { V1Deployment } from "@kubernetes/client-node";
import { rfc3339Seconds, setCondition } from "../../../common/conditions.js";
import type { WorkerPool, WorkerPoolStatus } from "../../../common/crd-types.js";
import type { PoolPlan } from "./autoscaler.js";

export interface ScaleEvent {
  time: Date;
  reason: string;
}

/** The pool's status from its plan, its Deployment as the cache has it, and the last scale. */
export function poolStatus(pool: WorkerPool, plan: PoolPlan, deployment: V1Deployment | undefined, scaled: ScaleEvent | undefined, now: Date, maxReplicas: number): WorkerPoolStatus {
  const replicas = deployment?.status?.replicas ?? 0;
  const ready = deployment?.status?.readyReplicas ?? 0;
  const pending = Math.max(0, replicas - ready);
  const before = pool.status ?? {};
  let conditions = setCondition(before.conditions, ready >= plan.replicas
    ? { type: "Ready", status: "True", reason: "AllReplicasReady", message: `${ready} of ${plan.replicas} replicas ready` }
    : { type: "Ready", status: "False", reason: "ReplicasPending", message: `${ready} of ${plan.replicas} replicas ready; ${pending} pending (waiting for a node, or starting)` },
  now);
  conditions = setCondition(conditions, plan.wanted > maxReplicas
    ? { type: "CapacityLimited", status: "True", reason: "MaxReplicasReached", message: `demand asks for ${plan.wanted} replicas; maxReplicas is ${maxReplicas}` }
    : { type: "CapacityLimited", status: "False", reason: "WithinLimits", message: `demand asks for ${plan.wanted} of at most ${maxReplicas} replicas` },
  now);
  return {
    waiting: plan.waiting,
    inFlight: plan.inFlight,
    desiredReplicas: plan.replicas,
    replicas,
    readyReplicas: ready,
    pendingReplicas: pending,
    lastScaleTime: scaled ? rfc3339Seconds(scaled.time) : before.lastScaleTime,
    lastScaleReason: scaled ? scaled.reason.slice(0, 1024) : before.lastScaleReason,
    observedGeneration: pool.metadata.generation,
    conditions: conditions.map((c) => ({ ...c, observedGeneration: pool.metadata.generation })),
  };
}

/**
 * Whether `next` must be written now. Queue depth moves with every job, so changes in only
 * `waiting`, `inFlight` and the conditions' messages (which quote the demand) are coalesced to one
 * write per `intervalMs`; the rest (replicas, a condition's status or reason) goes at once.
 * Returns how long to wait before a coalesced write is due, or 0 to write now, or undefined for none.
 */
export function statusWriteDue(before: WorkerPoolStatus | undefined, next: WorkerPoolStatus, lastWriteMs: number | undefined, nowMs: number, intervalMs: number): number | undefined {
  const { waiting: w0, inFlight: f0, ...rest0 } = before ?? {};
  const { waiting: w1, inFlight: f1, ...rest1 } = next;
  const same = (a: object, b: object) => isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
  const withoutMessages = (s: typeof rest0) => ({ ...s, conditions: s.conditions?.map(({ message: _message, ...c }) => c) });
  if (!same(withoutMessages(rest0), withoutMessages(rest1))) return 0;
  if (w0 === w1 && f0 === f1 && same(rest0, rest1)) return undefined;
  const since = lastWriteMs === undefined ? Infinity : nowMs - lastWriteMs;
  return since >= intervalMs ? 0 : intervalMs - since;
}
