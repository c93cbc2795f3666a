import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1LeaseSpec, type V1Pod } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEMODEL_PLURAL, VERSION, WORKERPOOL_KIND, WORKERPOOL_PLURAL } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { deploymentName, POOL_LABEL } from "../../operator/controllers/workerpool/worker-deployment.js";
import { migrate } from "../../prisma/migrate.js";
import { projectRoot } from "../../devstack/binaries.js";
import { startComponent, type Component } from "../../devstack/components.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";
import { generateApiKey } from "../../common/auth/api-key.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { A100 } from "../../devstack/gpu-nodes.js";
import { createPodRunner, type PodRunner, type WorkerProcess } from "../../devstack/pod-runner.js";
import { freePort, signalGroup, waitUntil, type Managed } from "../../devstack/processes.js";
import { writeFailingModel } from "./failing-model.js";

/** The ImageModel whose graph fails at run time (failing-model.ts). */
export const FAILING_MODEL = "reshape-fails";

/**
 * Short, so a killed worker's job runs again within seconds; long enough that a busy worker on a
 * shared 2-core machine still renews its locks in time (a worker blocked past its lock would see
 * its healthy job taken away, which is a different fault).
 */
const LOCK_DURATION_MS = 6000;
const STALLED_INTERVAL_MS = 2000;

/** The operator's Lease (operator/main.ts), in the platform namespace. */
const OPERATOR_LEASE = "pixelmill-operator";
/** The WorkerPool whose pods are the workers when they run as pods. */
const POOL = "a100";

export type ProcessName = "api" | "operator" | "operator-a" | "operator-b" | "worker-1" | "worker-2";

export interface PlatformOptions {
  /**
   * Two operators contending for the Lease, with client-go's timings (lease 15 s, renew deadline
   * 10 s, retry 2 s), instead of one without election. Not with a kube-apiserver outage: a leader
   * that cannot renew exits, and nothing here restarts it.
   */
  standbyOperator?: boolean;
  /**
   * Workers as the two pods of a WorkerPool on the fake A100 nodes, which a pod runner plays the
   * kubelet for, instead of two worker processes.
   */
  workerPods?: boolean;
}

export interface LogLine {
  time: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * The platform as separate processes, as it runs in production: the API, the operator (or two,
 * leader and standby) and two workers (processes, or pods on the fake GPU nodes), started from
 * `<component>/main.ts` with one environment, in a namespace, database, queue prefix and storage
 * prefix of their own. Processes can be killed and started again; a node can be lost.
 */
export class Platform {
  readonly namespace = uniqueName("chaos");
  readonly queuePrefix = uniqueName("chaos");
  readonly storagePrefix = uniqueName("chaos");
  readonly kc: KubeConfig = kubeConfig();
  readonly custom = this.kc.makeApiClient(CustomObjectsApi);
  /** The API's bootstrap admin key (PIXELMILL_ADMIN_KEY): the cases' jobs go to the platform tenant, in `namespace`. */
  readonly apiKey = generateApiKey("test");
  apiUrl = "";
  private readonly processes = new Map<string, Managed>();
  /** Processes that ended without being told to: a crash, which the running case reports. */
  private readonly crashes: string[] = [];
  private readonly intended = new Set<Managed>();
  /** Worker pods' processes the case killed (with their node) or already reported as crashed. */
  private readonly seenPodExits = new Set<number>();
  private runner?: PodRunner;
  private env: NodeJS.ProcessEnv = {};
  private db?: TestDatabase;
  private logDir = "";

  /** fetch to the API with its key. */
  apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.apiKey}`);
    return fetch(`${this.apiUrl}${path}`, { ...init, headers });
  }

  readonly names: readonly ProcessName[];

  constructor(private readonly opts: PlatformOptions = {}) {
    this.names = ["api", ...(opts.standbyOperator ? ["operator-a", "operator-b"] as const : ["operator"] as const), ...(opts.workerPods ? [] : ["worker-1", "worker-2"] as const)];
  }

  async start(): Promise<void> {
    const env = testEnv();
    this.logDir = await mkdtemp(join(tmpdir(), "pixelmill-chaos-"));
    await this.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: this.namespace } } });
    const models = await readManifests(join(projectRoot, "models/manifests"));
    await applyManifests(this.kc, models, this.namespace);
    await this.custom.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: this.namespace, plural: IMAGEMODEL_PLURAL,
      body: { apiVersion: API_VERSION, kind: "ImageModel", metadata: { name: FAILING_MODEL }, spec: await writeFailingModel(this.logDir) },
    });
    this.db = await createTestDatabase("chaos");
    await migrate(this.db.url, { migrationsDir: fileURLToPath(new URL("../../prisma/migrations", import.meta.url)) });
    const port = await freePort();
    this.apiUrl = `http://127.0.0.1:${port}`;
    this.env = {
      ...process.env,
      LOG_LEVEL: "info",
      KUBECONFIG: env.kubeconfigPath,
      DATABASE_URL: this.db.url,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: this.queuePrefix,
      PIXELMILL_NAMESPACE: this.namespace,
      PIXELMILL_ADMIN_KEY: this.apiKey,
      PIXELMILL_WATCH_NAMESPACE: this.namespace,
      PORT: String(port),
      PUBLIC_URL: this.apiUrl,
      STORAGE_URL: `s3://${env.s3.bucket}/${this.storagePrefix}`,
      S3_ENDPOINT: env.s3.endpoint, S3_REGION: env.s3.region, S3_ACCESS_KEY_ID: env.s3.accessKeyId, S3_SECRET_ACCESS_KEY: env.s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true",
      WORKER_MODELS: [...models.map((m) => m.metadata!.name!), FAILING_MODEL].join(","),
      WORKER_CONCURRENCY: "2",
      WORKER_LOCK_DURATION_MS: String(LOCK_DURATION_MS),
      WORKER_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
      // Every job must run: the cases reuse their long images, which the result cache (ADR 0015)
      // would otherwise answer from the first case's output, leaving no job in flight to fault.
      RESULT_CACHE_TTL_SECONDS: "0",
      // Two workers on one machine: no health server each (it would want the same port).
      HEALTH_PORT: "0",
      // One operator, and no kubelet here to restart it: a leader that cannot renew through the
      // kube-apiserver outage would exit for good. With standbyOperator, launch() turns it on.
      LEADER_ELECTION: "false",
      MODEL_CACHE_DIR: join(this.logDir, "models"),
    };
    await Promise.all(this.names.map((name) => this.launch(name)));
    if (this.opts.standbyOperator) await waitUntil("an operator to lead", async () => (await this.leader()) !== undefined, { timeoutMs: 60_000 });
    if (this.opts.workerPods) await this.startWorkerPods();
  }

  /** Starts `name` (again) and waits until it says it is ready (a standby operator: once its health server listens). */
  async launch(name: ProcessName): Promise<void> {
    const [component, instance] = name.split("-") as [Component, string | undefined];
    const elected = component === "operator" && this.opts.standbyOperator;
    const ready = elected ? "Health server listening" : { api: "API listening", operator: "Operator started", worker: "Worker started" }[component];
    const env = elected ? { ...this.env, LEADER_ELECTION: "true", POD_NAME: name, HEALTH_PORT: String(await freePort()) } : this.env;
    const before = (await this.logLines(name)).filter((l) => l.msg === ready).length;
    const proc = startComponent(component, env, this.logDir, { instance });
    this.processes.set(name, proc);
    void proc.exited.then((code) => {
      if (!this.intended.has(proc)) this.crashes.push(`${name} exited on its own (code ${code}); log: ${proc.logPath}`);
    });
    await waitUntil(`${name} to log "${ready}"`, async () => (await this.logLines(name)).filter((l) => l.msg === ready).length > before, { timeoutMs: 60_000, process: proc });
  }

  /** Kills `name`'s process group with `signal` and waits until it is gone. */
  async kill(name: ProcessName, signal: NodeJS.Signals): Promise<void> {
    const proc = this.processes.get(name);
    if (!proc) return;
    this.intended.add(proc);
    signalGroup(proc.pid, signal);
    await proc.exited;
  }

  /** Crashes seen since the last call: processes, and worker pods' processes that ended on their own. */
  takeCrashes(): string[] {
    for (const p of this.runner?.processes() ?? []) {
      if (!p.exitedAt || p.exitCode === 0 || this.seenPodExits.has(p.pid)) continue;
      this.seenPodExits.add(p.pid);
      this.crashes.push(`worker of pod ${p.pod} (pid ${p.pid}) exited on its own (code ${p.exitCode})`);
    }
    return this.crashes.splice(0);
  }

  /** The operators' Lease as it is now. */
  async lease(): Promise<V1LeaseSpec> {
    return (await this.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: OPERATOR_LEASE, namespace: this.namespace })).spec ?? {};
  }

  /** The operator that holds the Lease and runs its controllers, if one does. */
  async leader(): Promise<ProcessName | undefined> {
    const holder = (await this.lease().catch(() => undefined))?.holderIdentity as ProcessName | undefined;
    if (!holder || !this.names.includes(holder)) return undefined;
    return (await this.logLines(holder)).some((l) => l.msg === "Operator started") ? holder : undefined;
  }

  /** The WorkerPool's pods, as the apiserver has them now. */
  async workerPods(): Promise<V1Pod[]> {
    return (await this.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: this.namespace, labelSelector: `${POOL_LABEL}=${POOL}` })).items;
  }

  /** Ready replicas of the WorkerPool's Deployment. */
  async readyWorkerPods(): Promise<number> {
    return (await this.kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: this.namespace, name: deploymentName(POOL) })).status?.readyReplicas ?? 0;
  }

  /** Loses a fake GPU node with the worker pods on it (PodRunner.loseNode); the processes killed. */
  async loseNode(node: string): Promise<WorkerProcess[]> {
    const killed = await this.runner!.loseNode(node);
    for (const p of killed) this.seenPodExits.add(p.pid);
    return killed;
  }

  /** Two worker pods of a WorkerPool on the A100 nodes, run by a pod runner with the platform's environment. */
  private async startWorkerPods(): Promise<void> {
    this.runner = createPodRunner({ kc: this.kc, namespace: this.namespace, logDir: this.logDir, baseEnv: this.env, log: createLogger({ name: "pod-runner", level: "warn" }) });
    await this.runner.start();
    await this.custom.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: this.namespace, plural: WORKERPOOL_PLURAL,
      body: {
        apiVersion: API_VERSION, kind: WORKERPOOL_KIND, metadata: { name: POOL },
        spec: { image: "pixelmill/worker:dev", models: this.env.WORKER_MODELS!.split(","), gpu: { count: 1, product: A100.product }, maxJobSeconds: 60, autoscaling: { minReplicas: 2, maxReplicas: 2 } },
      },
    });
    await waitUntil("two worker pods to be ready", async () => (await this.readyWorkerPods()) === 2, { timeoutMs: 90_000 });
  }

  /** Starts again any process that is not running (after a crash, or a kill a failed case left behind). */
  async ensureRunning(): Promise<void> {
    const dead: ProcessName[] = [];
    for (const name of this.names) {
      const proc = this.processes.get(name);
      const gone = await Promise.race([proc?.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10))]);
      if (!proc || gone) dead.push(name);
    }
    await Promise.all(dead.map((n) => this.launch(n)));
  }

  /** The JSON lines `name` has logged, across its restarts. */
  async logLines(name: string): Promise<LogLine[]> {
    const text = await readFile(join(this.logDir, `${name}.log`), "utf8").catch(() => "");
    const lines: LogLine[] = [];
    for (const line of text.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        const parsed = JSON.parse(line) as { time: string; msg: string };
        lines.push({ ...parsed, time: Date.parse(parsed.time) });
      } catch {
        // a line cut short by SIGKILL
      }
    }
    return lines;
  }

  /** Every worker's lines, each with `worker`: the process name, or the pod name (the pod runner logs `<namespace>_<pod>.log`). */
  async workerLines(): Promise<Array<LogLine & { worker: string }>> {
    const podLog = new RegExp(`^${this.namespace}_(.+)\\.log$`);
    const workers = this.runner
      ? (await readdir(this.logDir)).flatMap((f) => podLog.exec(f)?.[1] ?? []).map((pod) => ({ worker: pod, log: `${this.namespace}_${pod}` }))
      : ["worker-1", "worker-2"].map((w) => ({ worker: w, log: w }));
    const lines = await Promise.all(workers.map(async ({ worker, log }) => (await this.logLines(log)).map((l) => ({ ...l, worker }))));
    return lines.flat();
  }

  async stop(): Promise<void> {
    for (const proc of this.processes.values()) this.intended.add(proc);
    await Promise.all([...[...this.processes.values()].map((p) => p.stop(15_000)), this.runner?.stop()]);
    await this.db?.drop().catch(() => {});
    const core = this.kc.makeApiClient(CoreV1Api);
    await core.deleteNamespace({ name: this.namespace }).catch(() => {});
    // No kubelet is left to finish the worker pods: remove them, so they hold no GPUs of the nodes.
    if (this.runner) await core.deleteCollectionNamespacedPod({ namespace: this.namespace, gracePeriodSeconds: 0 }).catch(() => {});
    if (process.env.PIXELMILL_KEEP_TMP) console.log(`[chaos] component logs kept in ${this.logDir}`);
    else await rm(this.logDir, { recursive: true, force: true });
  }
}
