import type { V1Pod } from "@kubernetes/client-node";

/**
 * A pod's container run inside the pod runner's own process instead of as a child of it:
 * `npm run bench:scale` serves hundreds of worker pods this way (simulated workers), where a
 * Node process per pod would not fit the machine. The pod runner treats it as it treats a
 * process: readiness from `ready()`, the pod's grace period on delete, restart if it ends.
 */
export interface InProcessContainer {
  /** The readiness probe's answer. */
  ready(): boolean;
  /** Settles with an exit code when the container ends (0 once stopped). */
  exited: Promise<number>;
  /**
   * SIGTERM's counterpart: drain, and resolve by `graceMs` at the latest. Nothing can SIGKILL
   * code in this process, so what is still draining then goes on in the background.
   */
  stop(graceMs: number): Promise<void>;
}

/** Starts the container of `pod` with its environment resolved as for a process (the runner's base env, then the pod's). */
export type ContainerStarter = (pod: V1Pod, env: NodeJS.ProcessEnv) => Promise<InProcessContainer>;

/** `container.stop(graceMs)`, resolved no later than the grace period, as the kubelet's SIGKILL would end it. */
export async function stopWithin(container: { stop(graceMs: number): Promise<void> }, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  try {
    await Promise.race([container.stop(graceMs), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
