import { request } from "node:http";
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { createLogger, type Logger } from "../common/logger.js";
import { errorMessage, startableInformer } from "../common/kube/informer.js";
import { projectRoot } from "./binaries.js";
import { kwokNodes } from "./gpu-nodes.js";
import { entryPoint, mountVolumes, remapPorts, serviceAccountKubeconfig, serviceAccountToken } from "./pod-container.js";
import { apiEnvSources, resolveContainerEnv } from "./pod-env.js";
import { stopWithin, type ContainerStarter } from "./in-process-container.js";
import { podStatus, type ContainerRun } from "./pod-status.js";
import { signalGroup, startProcess, type Managed } from "./processes.js";

/** The pods it runs: the operator's worker pods, and the Helm chart's (API, operator, migration Job). */
export const POD_SELECTOR = "app.kubernetes.io/name in (pixelmill-worker,pixelmill)";
const RUNNABLE = new Set(["pixelmill-worker", "pixelmill"]);

/** One process the runner started for a pod. */
export interface WorkerProcess {
  pod: string;
  uid: string;
  pid: number;
  startedAt: Date;
  /** Set once it exited: its code, or null when a signal ended it. */
  exitCode?: number | null;
  exitedAt?: Date;
}

export interface PodRunnerOptions {
  kc: KubeConfig;
  /** The environment every worker starts from (REDIS_URL, QUEUE_PREFIX, STORAGE_URL, S3_*, ...); the pod's env overrides it. */
  baseEnv: NodeJS.ProcessEnv;
  /** Each worker's output goes to `<logDir>/<namespace>_<pod>.log`. */
  logDir: string;
  /** Only pods of this namespace (default: all). */
  namespace?: string;
  /** Also copy the workers' output to this process's stdout. */
  mirrorOutput?: boolean;
  /** Nodes whose pods this runner plays the kubelet for (default: every fake node). */
  nodeNames?: readonly string[];
  /**
   * Runs each pod's container in this process instead of as a child (bench:scale's simulated
   * workers): no service-account token, volumes or ports, only the pod's resolved environment.
   */
  container?: ContainerStarter;
  log?: Logger;
}

export interface PodRunner {
  start(): Promise<void>;
  /** SIGTERMs every worker (bounded wait, then SIGKILL) and stops watching. Pods are left as they are. */
  stop(): Promise<void>;
  /** Every process started, oldest first, for one pod (`namespace/name`) or all. */
  processes(pod?: string): WorkerProcess[];
  /** Where a running pod's port (its number or name) is served on this machine: `http://127.0.0.1:<port>`. */
  endpoint(pod: string, port: string | number): string | undefined;
  /**
   * Node `name` vanishes with all it runs, as a machine that loses power: its processes are
   * SIGKILLed, its pods get no restart, status write or delete from here again, and its Node
   * object is deleted (the pod GC removes the pods later). Returns the processes killed.
   */
  loseNode(name: string): Promise<WorkerProcess[]>;
}

/** A started container, as a process or in this one. */
interface Running {
  /** The process's; this process's own for an in-process container. */
  pid: number;
  exited: Promise<number | null>;
  stop(graceMs: number): Promise<void>;
  /** Ends it at once, as a node losing power (an in-process container gets no grace). */
  kill(): void;
  /** The readiness probe. */
  ready(): Promise<boolean>;
  /** What the "Started container" log line says of it. */
  logFields: Record<string, unknown>;
}

interface Slot {
  key: string;
  pod: V1Pod;
  run: ContainerRun;
  proc?: Running;
  /** The container's ports (by number and name) → the host ports its process listens on. */
  ports?: Map<string, number>;
  terminating: boolean;
  restartTimer?: NodeJS.Timeout;
  probeTimer?: NodeJS.Timeout;
  /** Status writes of this pod, one after the other. */
  writes: Promise<void>;
  lastWritten?: string;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const STOP_WAIT_MS = 10_000;
const MIN_GRACE_SECONDS = 2;

/**
 * Plays the kubelet for worker pods on the fake GPU nodes (KWOK runs the nodes, not the pods):
 * each pod bound to one of them gets a real `worker/main.ts` process, configured from the pod's
 * env, and a kubelet-style status (Ready once the worker's /readyz answers 200). A pod being
 * deleted gets SIGTERM, its grace period, SIGKILL, then a final delete; a worker that exits on
 * its own is restarted with backoff (restartPolicy Always).
 */
export function createPodRunner(opts: PodRunnerOptions): PodRunner {
  const log = opts.log ?? createLogger({ name: "pod-runner" });
  const core = opts.kc.makeApiClient(CoreV1Api);
  const nodes = new Set(opts.nodeNames ?? kwokNodes());
  const slots = new Map<string, Slot>();
  const history: WorkerProcess[] = [];
  /** UIDs of pods whose node was lost (loseNode): never run or touched again. */
  const lost = new Set<string>();
  let stopped = false;
  let nextIp = 0;

  const path = opts.namespace ? `/api/v1/namespaces/${opts.namespace}/pods` : "/api/v1/pods";
  const list = () => opts.namespace
    ? core.listNamespacedPod({ namespace: opts.namespace, labelSelector: POD_SELECTOR })
    : core.listPodForAllNamespaces({ labelSelector: POD_SELECTOR });
  // List and watch are filtered by the apiserver; the node check keeps to the fake nodes.
  const ours = (pod: V1Pod) => RUNNABLE.has(pod.metadata?.labels?.["app.kubernetes.io/name"] ?? "") && nodes.has(pod.spec?.nodeName ?? "");
  const informer = startableInformer<V1Pod>(opts.kc, path, list, {
    onChange: (pod) => ours(pod) && onPod(pod),
    onDelete: (pod) => ours(pod) && onPodGone(pod),
  }, { log, labelSelector: POD_SELECTOR });

  const keyOf = (pod: V1Pod) => `${pod.metadata!.namespace}/${pod.metadata!.name}`;

  function onPod(pod: V1Pod): void {
    if (stopped || lost.has(pod.metadata?.uid ?? "")) return;
    const key = keyOf(pod);
    let slot = slots.get(key);
    if (slot && slot.pod.metadata?.uid !== pod.metadata?.uid) {
      background(slot, terminate(slot, false)); // a new pod of the same name: the old one is gone
      slot = undefined;
    }
    if (!slot) {
      if (pod.metadata?.deletionTimestamp) return void deletePod(pod); // nothing of ours runs for it
      const now = new Date();
      slot = { key, pod, terminating: false, writes: Promise.resolve(), run: { podIP: fakePodIp(nextIp++), startTime: now, ready: false, readyChangedAt: now, restartCount: 0 } };
      slots.set(key, slot);
      background(slot, launch(slot));
      return;
    }
    slot.pod = pod;
    if (pod.metadata?.deletionTimestamp && !slot.terminating) background(slot, terminate(slot, true));
  }

  function background(slot: Slot, work: Promise<void>): void {
    work.catch((err: unknown) => log.error({ pod: slot.key, err: errorMessage(err) }, "Pod runner step failed"));
  }

  function onPodGone(pod: V1Pod): void {
    const slot = slots.get(keyOf(pod));
    // Force-deleted (no grace left on the object): the worker still gets SIGTERM and the spec's grace period.
    if (slot && slot.pod.metadata?.uid === pod.metadata?.uid && !slot.terminating) background(slot, terminate(slot, false, pod.spec?.terminationGracePeriodSeconds));
  }

  async function launch(slot: Slot): Promise<void> {
    if (stopped || slot.terminating) return;
    let proc: Running | undefined;
    try {
      proc = opts.container ? await startInProcess(slot, opts.container) : await startChild(slot);
    } catch (err) {
      log.warn({ pod: slot.key, err: errorMessage(err) }, "Cannot set up the container, retrying");
      return scheduleRestart(slot, false);
    }
    if (!proc) return;
    const pod = slot.pod;
    const record: WorkerProcess = { pod: slot.key, uid: pod.metadata!.uid!, pid: proc.pid, startedAt: new Date() };
    history.push(record);
    slot.proc = proc;
    slot.run.runningSince = record.startedAt;
    log.info({ pod: slot.key, pid: proc.pid, ...proc.logFields, restartCount: slot.run.restartCount }, "Started container");
    writeStatus(slot);
    slot.probeTimer = setInterval(() => void probe(slot, proc), 500);
    void proc.exited.then((code) => {
      record.exitCode = code;
      record.exitedAt = new Date();
      clearInterval(slot.probeTimer);
      log.info({ pod: slot.key, pid: proc.pid, exitCode: code }, "Container exited");
      if (stopped || slot.terminating) return;
      const exit = { exitCode: code ?? 137, startedAt: record.startedAt, finishedAt: record.exitedAt };
      slot.run.runningSince = undefined;
      const policy = slot.pod.spec?.restartPolicy ?? "Always";
      if (policy === "Never" || (policy === "OnFailure" && exit.exitCode === 0)) {
        slot.run.finished = exit; // Succeeded or Failed: the pod is done (a Job's pod)
        slot.run.ready = false;
        slot.run.readyChangedAt = exit.finishedAt;
        return writeStatus(slot);
      }
      slot.run.lastExit = exit;
      slot.run.restartCount++;
      setReady(slot, false);
      scheduleRestart(slot, true);
    });
  }

  /** The pod's container as a child process (the real path): undefined when the pod went away meanwhile. */
  async function startChild(slot: Slot): Promise<Running | undefined> {
    const pod = slot.pod;
    const container = pod.spec!.containers[0]!;
    const name = `${pod.metadata!.namespace}_${pod.metadata!.name}`;
    const podDir = join(opts.logDir, name);
    await mkdir(podDir, { recursive: true });
    const sources = apiEnvSources(core, pod.metadata!.namespace!);
    const podEnv = await resolveContainerEnv(pod, container, sources, slot.run.podIP);
    const token = await serviceAccountToken(core, pod);
    const mounted = await mountVolumes(pod, container, { sources, token, podIP: slot.run.podIP }, podDir, podEnv);
    const { env, ports } = await remapPorts(container, mounted);
    // The pod's own credentials, or none: never the runner's (the base environment's KUBECONFIG).
    const kubeconfig = token === undefined ? undefined : await serviceAccountKubeconfig(opts.kc, pod, token, join(podDir, "kubeconfig"));
    const run = { ...entryPoint(pod, container), env: { ...opts.baseEnv, ...env, KUBECONFIG: kubeconfig } };
    if (stopped || slot.terminating) return undefined;
    slot.ports = ports;
    const proc: Managed = startProcess({
      name: `${pod.metadata!.labels?.["app.kubernetes.io/component"] ?? "worker"} ${slot.key}`,
      command: process.execPath,
      args: ["--import", "tsx", join(projectRoot, run.script), ...run.args],
      cwd: projectRoot,
      env: run.env,
      logPath: join(opts.logDir, `${name}.log`),
      teeOutput: opts.mirrorOutput,
    });
    return {
      logFields: { script: run.script, logPath: proc.logPath },
      pid: proc.pid,
      exited: proc.exited,
      stop: (graceMs) => proc.stop(graceMs),
      kill: () => signalGroup(proc.pid, "SIGKILL"),
      ready: () => httpReady(slot),
    };
  }

  /** The pod's container in this process, from the pod's resolved environment. */
  async function startInProcess(slot: Slot, starter: ContainerStarter): Promise<Running | undefined> {
    const pod = slot.pod;
    const podEnv = await resolveContainerEnv(pod, pod.spec!.containers[0]!, apiEnvSources(core, pod.metadata!.namespace!), slot.run.podIP);
    if (stopped || slot.terminating) return undefined;
    const container = await starter(pod, { ...opts.baseEnv, ...podEnv });
    if (stopped || slot.terminating) {
      // Deleted while it started: nobody else will stop it.
      await stopWithin(container, 0);
      return undefined;
    }
    return {
      logFields: { inProcess: true },
      pid: process.pid,
      exited: container.exited,
      stop: (graceMs) => stopWithin(container, graceMs),
      kill: () => void container.stop(0),
      ready: () => Promise.resolve(container.ready()),
    };
  }

  function scheduleRestart(slot: Slot, crashed: boolean): void {
    const delay = crashed ? Math.min(1000 * 2 ** (slot.run.restartCount - 1), 10_000) : 2000;
    slot.restartTimer = setTimeout(() => background(slot, launch(slot)), delay);
  }

  async function probe(slot: Slot, proc: Running): Promise<void> {
    const ready = await proc.ready();
    if (slot.proc === proc) setReady(slot, ready);
  }

  /** Ready when the container's HTTP readiness probe answers 200 (on the host port serving its port); without a probe, once running. */
  async function httpReady(slot: Slot): Promise<boolean> {
    const check = slot.pod.spec?.containers[0]?.readinessProbe?.httpGet;
    const port = check && slot.ports?.get(String(check.port));
    return !check || (port !== undefined && await httpStatus(`http://127.0.0.1:${port}${check.path ?? "/"}`).then((s) => s === 200, () => false));
  }

  function setReady(slot: Slot, ready: boolean): void {
    if (slot.run.ready === ready) return;
    slot.run.ready = ready;
    slot.run.readyChangedAt = new Date();
    writeStatus(slot);
  }

  function writeStatus(slot: Slot): void {
    const status = podStatus(slot.pod.spec!.containers[0]!, slot.run);
    const body = JSON.stringify(status);
    if (body === slot.lastWritten) return;
    slot.lastWritten = body;
    const { name, namespace } = slot.pod.metadata!;
    slot.writes = slot.writes.then(() => core.patchNamespacedPodStatus({ name: name!, namespace: namespace!, body: { status } }, mergePatch).then(() => {}))
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 404) log.warn({ pod: slot.key, err: errorMessage(err) }, "Pod status write failed");
      });
  }

  /** SIGTERM, the pod's grace period, SIGKILL; then, as a kubelet does, the final delete of the pod. */
  async function terminate(slot: Slot, deleteAfter: boolean, grace?: number): Promise<void> {
    slot.terminating = true;
    clearTimeout(slot.restartTimer);
    const pod = slot.pod;
    // Like the kubelet, at least 2 s even for a force delete: SIGTERM always comes first.
    const graceSeconds = Math.max(grace ?? pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30, MIN_GRACE_SECONDS);
    if (slot.proc) {
      log.info({ pod: slot.key, pid: slot.proc.pid, graceSeconds }, "Stopping worker");
      await slot.proc.stop(graceSeconds * 1000);
    }
    clearInterval(slot.probeTimer);
    await slot.writes;
    if (slots.get(slot.key) === slot) slots.delete(slot.key);
    if (deleteAfter && !stopped) await deletePod(pod);
  }

  async function deletePod(pod: V1Pod): Promise<void> {
    try {
      // With a body, the apiserver reads the options from it alone (not the query string).
      const body = { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid } };
      await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body });
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404) log.warn({ pod: keyOf(pod), err: errorMessage(err) }, "Pod delete failed");
    }
  }

  return {
    start: () => informer.start(),
    async stop() {
      stopped = true;
      await informer.stop();
      await Promise.all([...slots.values()].map(async (slot) => {
        clearTimeout(slot.restartTimer);
        if (slot.proc) log.info({ pod: slot.key, pid: slot.proc.pid }, "Stopping worker");
        await slot.proc?.stop(STOP_WAIT_MS);
        clearInterval(slot.probeTimer);
      }));
      slots.clear();
    },
    processes: (pod) => history.filter((h) => pod === undefined || h.pod === pod).map((h) => ({ ...h })),
    endpoint(pod, port) {
      const slot = slots.get(pod);
      const host = slot?.proc && slot.ports?.get(String(port));
      return host ? `http://127.0.0.1:${host}` : undefined;
    },
    async loseNode(name) {
      const gone = [...slots.values()].filter((slot) => slot.pod.spec?.nodeName === name);
      for (const slot of gone) {
        slot.terminating = true; // no restart, no status write
        lost.add(slot.pod.metadata!.uid!);
        slots.delete(slot.key);
        clearTimeout(slot.restartTimer);
        clearInterval(slot.probeTimer);
      }
      const procs = gone.flatMap((slot) => slot.proc ?? []);
      for (const proc of procs) proc.kill();
      await Promise.all(procs.map((proc) => proc.exited));
      log.info({ node: name, pods: gone.map((slot) => slot.key) }, "Node lost");
      await core.deleteNode({ name });
      const pids = new Set(procs.map((proc) => proc.pid));
      return history.filter((h) => pids.has(h.pid)).map((h) => ({ ...h }));
    },
  };
}

/** Pod IPs from 10.244.0.0/16, as a CNI would hand out; nothing routes to them. */
function fakePodIp(n: number): string {
  return `10.244.${Math.floor(n / 250) % 256}.${(n % 250) + 2}`;
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}
