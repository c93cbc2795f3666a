import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type KubernetesObject } from "@kubernetes/client-node";
import { INPUT_BUCKETS_ANNOTATION } from "../common/job/input-grants.js";
import { projectRoot } from "./binaries.js";
import { startStack, type Stack } from "./stack.js";
import { ensureDatabase } from "./postgres.js";
import { applyManifests, readManifests } from "./manifests.js";
import { startComponent } from "./components.js";
import { supervise, type Supervised } from "./supervisor.js";
import { createPodRunner, type PodRunner } from "./pod-runner.js";
import { migrate } from "../prisma/migrate.js";
import { ensureDevKey } from "./dev-key.js";
import { ensureDevWebhookKey } from "./dev-webhook-key.js";
import { loadConfig } from "../common/config.js";
import { createObjectStore } from "../common/storage/index.js";
import sharp from "sharp";
import { demoDiffusionModel } from "./demo-diffusion.js";
import { buildConsole, CONSOLE_DIST } from "./console-build.js";

/**
 * `npm run dev`: the whole platform on this machine, on embedded defaults. Starts the local
 * cluster (control plane with the CRDs, controllers, scheduler, fake GPU nodes), Postgres and
 * Redis (found or started), applies the built-in ImageModels and the text-to-image demo
 * (demo-diffusion.ts: random weights), builds the web console, runs the operator and the API
 * (PORT, default 8080; the console at `/`) as child processes, and applies two WorkerPools whose
 * pods the pod runner runs as worker processes. Storage is a folder unless --s3 starts the S3 server.
 *
 * The operator and the API are supervised (supervisor.ts): one that exits is said so on stderr
 * and restarted after 1 s, doubling to 30 s; one that exits 5 times within 5 min stops everything,
 * exit code 1. SIGINT (Ctrl-C), SIGTERM or SIGHUP stop everything: the components, the pod
 * runner's workers, the stack's servers. The "dev" script execs Node itself (no shell, no tsx
 * CLI in between), so the signal npm forwards to its child reaches this process.
 */
const withS3 = process.argv.includes("--s3");
const port = Number(process.env.PORT ?? 8080);
const stateDir = join(projectRoot, ".pixelmill");
const kubeconfigPath = join(stateDir, "kubeconfig");
const log = (m: string) => console.log(`[dev] ${m}`);
/** What must not scroll by unnoticed: a component that died, the stack giving up. */
const shout = (m: string) => console.error(`\n[dev] !!! ${m}\n`);
/**
 * How long a stop waits for the startup step in progress (starting the stack can take a minute)
 * before it stops what is up; the orphan watchdogs (processes.ts) end the rest when this process exits.
 */
const STARTUP_WAIT_MS = 90_000;

let stack: Stack | undefined;
const components: Supervised[] = [];
/** Runs the worker pods the scheduler places on the fake GPU nodes, in every namespace. */
let podRunner: PodRunner | undefined;
let stoppingSince: number | undefined;

/** Thrown between startup steps once a stop was asked for: nothing more is started. */
class Stopping extends Error {}
const unlessStopping = () => {
  if (stoppingSince !== undefined) throw new Stopping("stopping");
};

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(signal, 0));
const startup = main();
startup.catch((err: unknown) => {
  if (err instanceof Stopping) return;
  console.error(err);
  void shutdown("startup failed", 1);
});

async function main(): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const started = (stack = await startStack({ kubeconfigPath, s3: withS3, log }));
  unlessStopping();
  const databaseUrl = await ensureDatabase(started.postgres.url, "pixelmill");
  const { applied } = await migrate(databaseUrl, { migrationsDir: join(projectRoot, "prisma/migrations") });
  log(`database pixelmill: ${applied.length ? `applied ${applied.join(", ")}` : "migrations up to date"}`);
  const devKey = await ensureDevKey(databaseUrl, "default", join(stateDir, "dev-key"));
  log(`development API key ${devKey.created ? "created" : "reused"} (${join(stateDir, "dev-key")})`);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const demo = await demoDiffusionModel(stateDir);
  log(`text-to-image demo ${demo.model.metadata.name} (random weights: it draws noise) ${demo.reused ? "reused" : "written"} (${join(stateDir, demo.model.metadata.name!)})`);
  const models = [...await readManifests(join(projectRoot, "models/manifests")), demo.model];
  await applyManifests(kc, models, "default");
  log(`ImageModels in namespace default: ${models.map((m) => m.metadata?.name).join(", ")}`);
  if (withS3 && started.s3) {
    // The s3:// examples read the sample bucket: granted to namespace default, as a platform admin would.
    await kc.makeApiClient(CoreV1Api).patchNamespace(
      { name: "default", body: { metadata: { annotations: { [INPUT_BUCKETS_ANNOTATION]: started.s3.bucket } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  const storage = withS3 && started.s3
    ? { STORAGE_URL: `s3://${started.s3.bucket}`, S3_ENDPOINT: started.s3.endpoint, S3_REGION: started.s3.region, S3_ACCESS_KEY_ID: started.s3.accessKeyId, S3_SECRET_ACCESS_KEY: started.s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true" }
    : { STORAGE_URL: `file://${join(stateDir, "storage")}` };
  const env = {
    ...process.env, ...storage,
    KUBECONFIG: kubeconfigPath, DATABASE_URL: databaseUrl, REDIS_URL: started.redis.url, QUEUE_PREFIX: "pixelmill-dev",
    PORT: String(port), PUBLIC_URL: `http://localhost:${port}`, PIXELMILL_NAMESPACE: "default",
    MODEL_CACHE_DIR: join(stateDir, "models"),
    CONSOLE_DIR: CONSOLE_DIST,
    // Webhooks on (docs/webhooks.md), to receivers on this machine too: http and any address.
    WEBHOOK_SECRETS_KEY: await ensureDevWebhookKey(join(stateDir, "webhook-secrets-key")), WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_ADDRESS_POLICY: "any",
  };
  await seedSample(env);
  unlessStopping();
  const consoleBuilt = await buildConsole(log);
  unlessStopping();
  for (const component of ["operator", "api"] as const) {
    components.push(supervise({
      name: component,
      start: () => startComponent(component, env, started.dir, { inheritOutput: true }),
      log: shout,
      onGiveUp: () => void shutdown(`${component} keeps crashing`, 1),
    }));
  }
  // Workers are WorkerPool pods: the operator scales them, the scheduler places them on the fake
  // GPU nodes, and the pod runner runs each as a worker process (restarting one that exits, with backoff).
  podRunner = createPodRunner({ kc, baseEnv: env, logDir: join(started.dir, "pods"), mirrorOutput: true });
  await podRunner.start();
  unlessStopping();
  const pools = devWorkerPools(models.map((m) => m.metadata!.name!));
  await applyManifests(kc, pools, "default");
  log(`WorkerPools in namespace default: ${pools.map((p) => p.metadata?.name).join(", ")}`);
  unlessStopping();

  console.log(`
Pixelmill is starting: API at http://localhost:${port} (kube-apiserver ${started.apiserverVersion}).

  Web console: http://localhost:${port}/${consoleBuilt ? "" : "   (not built: see the web console line above)"}
  sign in with the development API key (PIXELMILL_API_KEY below, also in ${join(stateDir, "dev-key")})
  try Generate with the demo model tiny-sdxl: random weights, so its pictures are noise

  export PIXELMILL_API_KEY=${devKey.key}
  curl -H "Authorization: Bearer $PIXELMILL_API_KEY" -F model=resize-x2 -F image=@your.png http://localhost:${port}/v1/jobs
  curl -H "Authorization: Bearer $PIXELMILL_API_KEY" http://localhost:${port}/v1/jobs/<id>          # status, and the output URL once done
  curl -H "Authorization: Bearer $PIXELMILL_API_KEY" -N http://localhost:${port}/v1/jobs/<id>/events # live updates (SSE)

  export KUBECONFIG=${kubeconfigPath}
  kubectl apply -f examples/imagejob-dev.yaml   # input: upload:uploads/default/samples/pixelmill.png
  kubectl get imagemodels,imagejobs
  kubectl get workerpools,pods -o wide   # the pools scale with the queue

The operator or the API, if it exits, is restarted (after 1 s, doubling to 30 s); 5 exits
within 5 min stop everything. Ctrl-C (or SIGTERM) stops everything.`);
}

/**
 * Stops everything, then exits with `exitCode`: the operator and the API (they drain) and the pod
 * runner's workers, then the stack under them. A startup step in progress is waited for first
 * (up to STARTUP_WAIT_MS), so what it starts is stopped too. Later calls only say it is stopping.
 */
async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (stoppingSince !== undefined) {
    // A Ctrl-C reaches this process twice (from the terminal and forwarded by npm): say nothing then.
    if (Date.now() - stoppingSince > 1000) log(`${reason}: already stopping`);
    return;
  }
  stoppingSince = Date.now();
  if (exitCode === 0) console.log(`\n[dev] ${reason}: stopping everything`);
  else shout(`${reason}: stopping everything (exit code ${exitCode})`);
  const settled = await Promise.race([startup.then(() => true, () => true), sleep(STARTUP_WAIT_MS, false, { ref: false })]);
  if (!settled) shout(`startup still running after ${STARTUP_WAIT_MS / 1000} s: stopping what is up`);
  try {
    await Promise.all([...components.map((c) => c.stop(30_000)), podRunner?.stop()]);
    await stack?.stop();
    log("stopped");
  } catch (err) {
    console.error(err);
    exitCode ||= 1;
  }
  process.exit(exitCode);
}

/**
 * Two pools serving every built-in model: H100 workers preferred (one kept warm), A100 workers
 * taking the overflow from zero. Their pods run as local worker processes through the pod runner.
 */
function devWorkerPools(models: string[]): KubernetesObject[] {
  const pool = (name: string, product: string, priority: number, minReplicas: number, maxReplicas: number) => ({
    apiVersion: "pixelmill.io/v1alpha1", kind: "WorkerPool", metadata: { name },
    spec: {
      image: "pixelmill/worker:dev", models, gpu: { count: 1, product }, priority, maxJobSeconds: 120,
      autoscaling: { minReplicas, maxReplicas, targetJobsPerReplica: 4, scaleDownWindowSeconds: 60 },
    },
  });
  return [pool("h100", "NVIDIA-H100-80GB-HBM3", 0, 1, 2), pool("a100", "NVIDIA-A100-SXM4-80GB", 10, 0, 4)];
}

/**
 * A sample input at `uploads/default/samples/pixelmill.png` in the dev storage, so examples/imagejob-dev.yaml runs
 * as is; also at `inputs/cat.png` and `inputs/receipt.jpg`, which the s3:// examples read under `--s3` (bucket pixelmill).
 */
async function seedSample(env: NodeJS.ProcessEnv): Promise<void> {
  const store = createObjectStore(loadConfig(env));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="120"><rect width="100%" height="100%" fill="#f4efe6"/>
    <circle cx="60" cy="60" r="40" fill="#d2502d"/><text x="120" y="72" font-family="DejaVu Sans, sans-serif" font-size="32" fill="#1d2b3a">Pixelmill</text></svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  for (const key of ["uploads/default/samples/pixelmill.png", "inputs/cat.png"]) await store.put(key, png, { contentType: "image/png" });
  await store.put("inputs/receipt.jpg", await sharp(png).jpeg().toBuffer(), { contentType: "image/jpeg" });
  store.close();
}
