import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEMODEL_PLURAL, VERSION } from "../../common/crd-types.js";
import { migrate } from "../../prisma/migrate.js";
import { projectRoot } from "../../devstack/binaries.js";
import { startComponent, type Component } from "../../devstack/components.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";
import { generateApiKey } from "../../common/auth/api-key.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { freePort, waitUntil, type Managed } from "../../devstack/processes.js";
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

export interface LogLine {
  time: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * The platform as separate processes, as it runs in production: the API, the operator and two
 * workers, started from `<component>/main.ts` with one environment, in a namespace, database,
 * queue prefix and storage prefix of their own. Processes can be killed and started again.
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
  private env: NodeJS.ProcessEnv = {};
  private db?: TestDatabase;
  private logDir = "";

  /** fetch to the API with its key. */
  apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.apiKey}`);
    return fetch(`${this.apiUrl}${path}`, { ...init, headers });
  }

  static readonly NAMES = ["operator", "api", "worker-1", "worker-2"] as const;

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
      // Two workers on one machine: no health server each (it would want the same port).
      HEALTH_PORT: "0",
      // One operator, and no kubelet here to restart it: a leader that cannot renew through the
      // kube-apiserver outage would exit for good. Leader election has its own tests.
      LEADER_ELECTION: "false",
      MODEL_CACHE_DIR: join(this.logDir, "models"),
    };
    await Promise.all(Platform.NAMES.map((name) => this.launch(name)));
  }

  /** Starts `name` (again) and waits until it says it is ready. */
  async launch(name: (typeof Platform.NAMES)[number]): Promise<void> {
    const [component, instance] = name.split("-") as [Component, string | undefined];
    const ready = { api: "API listening", operator: "Operator started", worker: "Worker started" }[component];
    const before = (await this.logLines(name)).filter((l) => l.msg === ready).length;
    const proc = startComponent(component, this.env, this.logDir, { instance });
    this.processes.set(name, proc);
    void proc.exited.then((code) => {
      if (!this.intended.has(proc)) this.crashes.push(`${name} exited on its own (code ${code}); log: ${proc.logPath}`);
    });
    await waitUntil(`${name} to log "${ready}"`, async () => (await this.logLines(name)).filter((l) => l.msg === ready).length > before, { timeoutMs: 60_000, process: proc });
  }

  /** Kills `name`'s process group with `signal` and waits until it is gone. */
  async kill(name: (typeof Platform.NAMES)[number], signal: NodeJS.Signals): Promise<void> {
    const proc = this.processes.get(name);
    if (!proc) return;
    this.intended.add(proc);
    try {
      process.kill(-proc.pid, signal);
    } catch {
      // already gone
    }
    await proc.exited;
  }

  /** Crashes seen since the last call. */
  takeCrashes(): string[] {
    return this.crashes.splice(0);
  }

  /** Starts again any process that is not running (after a crash, or a kill a failed case left behind). */
  async ensureRunning(): Promise<void> {
    const dead: (typeof Platform.NAMES)[number][] = [];
    for (const name of Platform.NAMES) {
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

  async workerLines(): Promise<Array<LogLine & { worker: string }>> {
    const [one, two] = await Promise.all([this.logLines("worker-1"), this.logLines("worker-2")]);
    return [...one.map((l) => ({ ...l, worker: "worker-1" })), ...two.map((l) => ({ ...l, worker: "worker-2" }))];
  }

  async stop(): Promise<void> {
    for (const proc of this.processes.values()) this.intended.add(proc);
    await Promise.all([...this.processes.values()].map((p) => p.stop(15_000)));
    await this.db?.drop().catch(() => {});
    await this.kc.makeApiClient(CoreV1Api).deleteNamespace({ name: this.namespace }).catch(() => {});
    if (process.env.PIXELMILL_KEEP_TMP) console.log(`[chaos] component logs kept in ${this.logDir}`);
    else await rm(this.logDir, { recursive: true, force: true });
  }
}
