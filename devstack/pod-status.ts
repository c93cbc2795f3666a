import type { V1Container } from "@kubernetes/client-node";
import { rfc3339Seconds } from "../common/conditions.js";

/** What the pod runner knows of one pod's worker, turned into a kubelet-style status below. */
export interface ContainerRun {
  podIP: string;
  startTime: Date;
  /** Start of the current process; undefined while waiting to restart. */
  runningSince?: Date;
  ready: boolean;
  readyChangedAt: Date;
  restartCount: number;
  lastExit?: { exitCode: number; startedAt: Date; finishedAt: Date };
}

/**
 * The `status` a kubelet would write for a one-container pod whose container is `run`: phase
 * Running, the four standard conditions, and the container's state. Timestamps in whole seconds,
 * as the apiserver stores them. Arrays are complete, so a JSON merge patch replaces them whole.
 */
export function podStatus(container: V1Container, run: ContainerRun): Record<string, unknown> {
  const t = rfc3339Seconds;
  const ready = run.ready ? "True" : "False";
  const condition = (type: string, status: string, since: Date) => ({ type, status, lastProbeTime: null, lastTransitionTime: t(since) });
  const state = run.runningSince
    ? { running: { startedAt: t(run.runningSince) } }
    : { waiting: { reason: "CrashLoopBackOff", message: "back-off restarting the worker" } };
  const lastState = run.lastExit
    ? { terminated: { exitCode: run.lastExit.exitCode, reason: run.lastExit.exitCode === 0 ? "Completed" : "Error", startedAt: t(run.lastExit.startedAt), finishedAt: t(run.lastExit.finishedAt) } }
    : {};
  return {
    phase: "Running",
    startTime: t(run.startTime),
    hostIP: "127.0.0.1",
    hostIPs: [{ ip: "127.0.0.1" }],
    podIP: run.podIP,
    podIPs: [{ ip: run.podIP }],
    conditions: [
      condition("PodReadyToStartContainers", "True", run.startTime),
      condition("Initialized", "True", run.startTime),
      condition("Ready", ready, run.readyChangedAt),
      condition("ContainersReady", ready, run.readyChangedAt),
      condition("PodScheduled", "True", run.startTime),
    ],
    containerStatuses: [{
      name: container.name,
      image: container.image ?? "",
      imageID: "",
      containerID: `pixelmill-pod-runner://${container.name}`,
      ready: run.ready,
      started: run.runningSince !== undefined,
      restartCount: run.restartCount,
      state,
      lastState,
    }],
  };
}
