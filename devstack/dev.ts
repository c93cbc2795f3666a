import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { projectRoot } from "./binaries.js";
import { startStack } from "./stack.js";
import { ensureDatabase } from "./postgres.js";
import { applyManifests, readManifests } from "./manifests.js";
import type { Managed } from "./processes.js";
import { startComponent } from "./components.js";
import { createPodRunner, type PodRunner } from "./pod-runner.js";
import { migrate } from "../prisma/migrate.js";
import { loadConfig } from "../common/config.js";
import { createObjectStore } from "../common/storage/index.js";
import sharp from "sharp";

/**
 * `npm run dev`: the whole platform on this machine, on embedded defaults. Starts the local
 * cluster (control plane with the CRDs, controllers, scheduler, fake GPU nodes), Postgres and
 * Redis (found or started), applies the built-in ImageModels, runs the operator and the API
 * (PORT, default 8080) as child processes, and applies two WorkerPools whose pods the pod runner
 * runs as worker processes. Storage is a folder unless --s3 starts the S3 server. Ctrl-C stops everything.
 */
const withS3 = process.argv.includes("--s3");
const port = Number(process.env.PORT ?? 8080);
const stateDir = join(projectRoot, ".pixelmill");
await mkdir(stateDir, { recursive: true });
const kubeconfigPath = join(stateDir, "kubeconfig");
const stack = await startStack({ kubeconfigPath, s3: withS3, log: (m) => console.log(`[dev] ${m}`) });
const children: Managed[] = [];
/** Runs the worker pods the scheduler places on the fake GPU nodes, in every namespace. */
let podRunner: PodRunner | undefined;

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n[dev] ${signal}: stopping`);
  // Components first (they drain), then the stack under them.
  Promise.all([...children.map((c) => c.stop(30_000)), podRunner?.stop()]).then(() => stack.stop()).then(() => process.exit(0), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

try {
  const databaseUrl = await ensureDatabase(stack.postgres.url, "pixelmill");
  const { applied } = await migrate(databaseUrl, { migrationsDir: join(projectRoot, "prisma/migrations") });
  console.log(`[dev] database pixelmill: ${applied.length ? `applied ${applied.join(", ")}` : "migrations up to date"}`);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const models = await readManifests(join(projectRoot, "models/manifests"));
  await applyManifests(kc, models, "default");
  console.log(`[dev] ImageModels in namespace default: ${models.map((m) => m.metadata?.name).join(", ")}`);

  const storage = withS3 && stack.s3
    ? { STORAGE_URL: `s3://${stack.s3.bucket}`, S3_ENDPOINT: stack.s3.endpoint, S3_REGION: stack.s3.region, S3_ACCESS_KEY_ID: stack.s3.accessKeyId, S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true" }
    : { STORAGE_URL: `file://${join(stateDir, "storage")}` };
  const env = {
    ...process.env, ...storage,
    KUBECONFIG: kubeconfigPath, DATABASE_URL: databaseUrl, REDIS_URL: stack.redis.url, QUEUE_PREFIX: "pixelmill-dev",
    PORT: String(port), PUBLIC_URL: `http://localhost:${port}`, PIXELMILL_NAMESPACE: "default",
    MODEL_CACHE_DIR: join(stateDir, "models"),
  };
  await seedSample(env);
  for (const component of ["operator", "api"] as const) {
    children.push(startComponent(component, env, stack.dir, { inheritOutput: true }));
  }
  // Workers are WorkerPool pods: the operator scales them, the scheduler places them on the fake
  // GPU nodes, and the pod runner runs each as a worker process.
  podRunner = createPodRunner({ kc, baseEnv: env, logDir: join(stack.dir, "pods"), mirrorOutput: true });
  await podRunner.start();
  const pools = devWorkerPools(models.map((m) => m.metadata!.name!));
  await applyManifests(kc, pools, "default");
  console.log(`[dev] WorkerPools in namespace default: ${pools.map((p) => p.metadata?.name).join(", ")}`);
} catch (err) {
  console.error(err);
  shutdown("error");
}

console.log(`
Pixelmill is starting: API at http://localhost:${port} (kube-apiserver ${stack.apiserverVersion}).

  curl -F model=upscale-x2 -F image=@your.png http://localhost:${port}/v1/jobs
  curl http://localhost:${port}/v1/jobs/<id>          # status, and the output URL once done
  curl -N http://localhost:${port}/v1/jobs/<id>/events # live updates (SSE)

  export KUBECONFIG=${kubeconfigPath}
  kubectl apply -f examples/imagejob-dev.yaml   # input: upload:samples/pixelmill.png
  kubectl get imagemodels,imagejobs
  kubectl get workerpools,pods -o wide   # the pools scale with the queue

Ctrl-C stops everything.`);

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
 * A sample input at `samples/pixelmill.png` in the dev storage, so examples/imagejob-dev.yaml runs
 * as is; also at `inputs/cat.png` and `inputs/receipt.jpg`, which the s3:// examples read under `--s3` (bucket pixelmill).
 */
async function seedSample(env: NodeJS.ProcessEnv): Promise<void> {
  const store = createObjectStore(loadConfig(env));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="120"><rect width="100%" height="100%" fill="#f4efe6"/>
    <circle cx="60" cy="60" r="40" fill="#d2502d"/><text x="120" y="72" font-family="DejaVu Sans, sans-serif" font-size="32" fill="#1d2b3a">Pixelmill</text></svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  for (const key of ["samples/pixelmill.png", "inputs/cat.png"]) await store.put(key, png, { contentType: "image/png" });
  await store.put("inputs/receipt.jpg", await sharp(png).jpeg().toBuffer(), { contentType: "image/jpeg" });
  store.close();
}
