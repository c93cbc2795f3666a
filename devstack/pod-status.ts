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
  lastExit?: ContainerExit;
  /** The exit that ended the pod (restartPolicy Never, or OnFailure and code 0): phase Succeeded or Failed. */
  finished?: ContainerExit;
}

export interface ContainerExit {
  exitCode: number;
  startedAt: Date;
  finishedAt: Date;
}

/**
 * The `status` a kubelet would write for a one-container pod whose container is `run`: phase
 * Running (Succeeded or Failed once it finished), the standard conditions, and the container's state. Timestamps in whole seconds,
 * as the apiserver stores them. Arrays are complete, so a JSON merge patch replaces them whole.
 */
export function podStatus(container: V1Container, run: ContainerRun): Record<string, unknown> {
  const t = rfc3339Seconds;
  const ready = run.ready ? "True" : "False";
  const condition = (type: string, status: string, since: Date) => ({ type, status, lastProbeTime: null, lastTransitionTime: t(since) });
  const terminated = (exit: ContainerExit) => ({ terminated: { exitCode: exit.exitCode, reason: exit.exitCode === 0 ? "Completed" : "Error", startedAt: t(exit.startedAt), finishedAt: t(exit.finishedAt) } });
  const state = run.finished ? terminated(run.finished)
    : run.runningSince ? { running: { startedAt: t(run.runningSince) } }
      : { waiting: { reason: "CrashLoopBackOff", message: "back-off restarting the container" } };
  const lastState = run.lastExit ? terminated(run.lastExit) : {};
  return {
    phase: run.finished ? (run.finished.exitCode === 0 ? "Succeeded" : "Failed") : "Running",
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
