import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION, WORKERPOOL_PLURAL } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { projectRoot } from "../../devstack/binaries.js";
import { startComponent } from "../../devstack/components.js";
import { H100 } from "../../devstack/gpu-nodes.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { createPodRunner, type PodRunner } from "../../devstack/pod-runner.js";
import { ensureDatabase } from "../../devstack/postgres.js";
import { freePort, waitUntil, type Managed } from "../../devstack/processes.js";
import { startStack, type Stack } from "../../devstack/stack.js";
import { ensureDevKey } from "../../devstack/dev-key.js";
import { migrate } from "../../prisma/migrate.js";

export interface PlatformOptions {
  model: string;
  workers: number;
  concurrency: number;
  /** Where each process role writes its --cpu-prof profiles (`<dir>/api`, ...); none: no profiling. */
  profileDir?: string;
  /** MIRROR_DELETE_FINISHED_AFTER_SECONDS for the API; unset: the platform's default. */
  deleteAfterSeconds?: number;
  logLevel: string;
  log: (m: string) => void;
}

/** The whole platform as `npm run dev` runs it, on S3, with its own Redis and Postgres. */
export interface Platform {
  stack: Stack;
  kc: KubeConfig;
  databaseUrl: string;
  queuePrefix: string;
  apiUrl: string;
  operatorMetricsUrl: string;
  key: string;
  /** The model's ImageModel spec, as the operator puts it in each queue job. */
  modelSpec: unknown;
  api: Managed;
  operator: Managed;
  runner: PodRunner;
  /** Roles of the platform's processes, by pid (the workers as the pod runner started them). */
  roleOf: (pid: number) => string | undefined;
  /** Stops the workers, the API and the operator (SIGTERM: each drains and writes its profile). */
  stopProcesses(): Promise<void>;
}

export const NAMESPACE = "default";
const POOL = "bench";

/**
 * Starts the stack (apiserver, controllers, scheduler, KWOK, Redis, Postgres, S3), the operator and
 * the API (with its mirror) as their own processes, and a WorkerPool of `workers` fixed replicas
 * whose pods the pod runner runs as real worker processes; resolves once all are ready.
 */
export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const stack = await startStack({ s3: true, ownServices: true, log: opts.log });
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kubeconfigPath);
  const databaseUrl = await ensureDatabase(stack.postgres.url, "pixelmill");
  await migrate(databaseUrl, { migrationsDir: join(projectRoot, "prisma/migrations") });
  const { key } = await ensureDevKey(databaseUrl, NAMESPACE, join(stack.dir, "dev-key"));
  const models = (await readManifests(join(projectRoot, "models/manifests"))).filter((m) => m.metadata?.name === opts.model);
  if (models.length !== 1) throw new Error(`no built-in model ${opts.model}`);
  await applyManifests(kc, models, NAMESPACE);

  const s3 = stack.s3!;
  const queuePrefix = "pixelmill-bench";
  const storage = { STORAGE_URL: `s3://${s3.bucket}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true" };
  const profiling = async (role: string) => {
    if (!opts.profileDir) return {};
    await mkdir(join(opts.profileDir, role), { recursive: true });
    return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --cpu-prof --cpu-prof-dir=${join(opts.profileDir, role)}`.trim() };
  };
  const [apiPort, operatorPort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const env = {
    ...process.env, ...storage, LOG_LEVEL: opts.logLevel,
    KUBECONFIG: stack.kubeconfigPath, DATABASE_URL: databaseUrl, REDIS_URL: stack.redis.url, QUEUE_PREFIX: queuePrefix,
    PIXELMILL_NAMESPACE: NAMESPACE, PUBLIC_URL: apiUrl,
    // The bench's one key submits far more than a tenant's default rate and active-job caps allow.
    RATE_LIMIT_PER_MINUTE: "1000000", TENANT_MAX_ACTIVE_JOBS: "1000000",
    ...(opts.deleteAfterSeconds === undefined ? {} : { MIRROR_DELETE_FINISHED_AFTER_SECONDS: String(opts.deleteAfterSeconds) }),
  };
  const operator = startComponent("operator", { ...env, HEALTH_PORT: String(operatorPort), ...(await profiling("operator")) }, stack.dir);
  const api = startComponent("api", { ...env, PORT: String(apiPort), ...(await profiling("api")) }, stack.dir);
  await waitUntil("the API's /readyz", () => fetch(`${apiUrl}/readyz`).then((r) => r.status === 200, () => false), { timeoutMs: 90_000, process: api });
  opts.log(`API at ${apiUrl}, operator metrics at http://127.0.0.1:${operatorPort}/metrics (logs in ${stack.dir})`);

  const runner = createPodRunner({
    kc, namespace: NAMESPACE, logDir: join(stack.dir, "pods"), log: createLogger({ level: "warn", name: "pod-runner" }),
    baseEnv: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: opts.logLevel, REDIS_URL: stack.redis.url, QUEUE_PREFIX: queuePrefix, ...storage, ...(await profiling("workers")) },
  });
  await runner.start();
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: WORKERPOOL_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: POOL },
    spec: {
      image: "pixelmill/worker:bench", models: [opts.model], gpu: { count: 1, product: H100.product }, maxJobSeconds: 60,
      env: [{ name: "WORKER_CONCURRENCY", value: String(opts.concurrency) }],
      // Fixed size: the bench measures the pipeline, not the autoscaler (bench:autoscale does).
      autoscaling: { minReplicas: opts.workers, maxReplicas: opts.workers, targetJobsPerReplica: 4, scaleDownWindowSeconds: 600 },
    },
  } });
  await waitForReadyWorkers(kc, opts.workers);
  opts.log(`${opts.workers} worker pods ready (concurrency ${opts.concurrency} each)`);

  const roles = new Map<number, string>([[api.pid, "api"], [operator.pid, "operator"]]);
  return {
    stack, kc, databaseUrl, queuePrefix, apiUrl, key, api, operator, runner, modelSpec: (models[0] as { spec?: unknown }).spec,
    operatorMetricsUrl: `http://127.0.0.1:${operatorPort}/metrics`,
    roleOf: (pid) => roles.get(pid) ?? (runner.processes().some((p) => p.pid === pid) ? "workers" : undefined),
    async stopProcesses() {
      await runner.stop();
      await Promise.all([api.stop(30_000), operator.stop(30_000)]);
    },
  };
}

async function waitForReadyWorkers(kc: KubeConfig, n: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + 180_000;
  for (;;) {
    const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: "app.kubernetes.io/name=pixelmill-worker" });
    const ready = pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
    if (ready >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${n} worker pods became ready`);
    await sleep(500);
  }
}
