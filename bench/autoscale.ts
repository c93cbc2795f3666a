/**
 * `npm run bench:autoscale`: how fast a WorkerPool follows its queue on the local cluster
 * (kube-apiserver, controller-manager, scheduler, KWOK GPU nodes, real worker processes through
 * the pod runner), beside what KEDA + HPA with their defaults would take on the same run.
 *
 *   --jobs N      burst size (default 200)
 *   --window S    the pool's scaleDownWindowSeconds (default 120, the CRD's default)
 *
 * Times are taken by this process from watch events, so they include the apiserver round trips.
 */
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { CoreV1Api, CustomObjectsApi, KubeConfig, Watch, type V1Deployment } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, WORKERPOOL_PLURAL, type ImageJob } from "../common/crd-types.js";
import { INPUT_BUCKETS_ANNOTATION } from "../common/job/input-grants.js";
import { createLogger } from "../common/logger.js";
import { createObjectStore } from "../common/storage/index.js";
import { loadConfig } from "../common/config.js";
import { startOperator } from "../operator/operator.js";
import { projectRoot } from "../devstack/binaries.js";
import { H100 } from "../devstack/gpu-nodes.js";
import { applyManifests, readManifests } from "../devstack/manifests.js";
import { createPodRunner } from "../devstack/pod-runner.js";
import { startStack } from "../devstack/stack.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BURST = arg("jobs", 200);
const WINDOW_S = arg("window", 120);
const MAX = 4;
const TARGET = 5;
// KEDA + HPA defaults: KEDA polls its scaler every 30 s and activates 0 → 1; the HPA syncs every 15 s
// and scales 1 → N; KEDA waits cooldownPeriod 300 s after the scaler was last active before 1 → 0.
const KEDA_POLL_S = 30;
const HPA_SYNC_S = 15;
const KEDA_COOLDOWN_S = 300;

const namespace = "bench";
const prefix = `bench-${Date.now().toString(36)}`;
const stack = await startStack({ s3: true, log: (m) => console.error(`[bench] ${m}`) });
const kc = new KubeConfig();
kc.loadFromFile(stack.kubeconfigPath);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const log = createLogger({ level: "warn" });
const s3 = stack.s3!;
const storage = { STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true" };

await core.createNamespace({ body: { metadata: { name: namespace, annotations: { [INPUT_BUCKETS_ANNOTATION]: s3.bucket } } } });
await applyManifests(kc, await readManifests(join(projectRoot, "models/manifests")), namespace);
const store = createObjectStore(loadConfig({ ...storage }));
// Big enough that a burst keeps the pool busy for seconds (resize-x2 of 384×384, about 0.1 s a job here).
const input = await sharp({ create: { width: 384, height: 384, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).png().toBuffer();
await store.put("inputs/in.png", input, { contentType: "image/png" });
store.close();
const operator = await startOperator({ kc, redisUrl: stack.redis.url, queuePrefix: prefix, namespace, log });
const runner = createPodRunner({
  kc, namespace, logDir: join(stack.dir, "workers"),
  baseEnv: { PATH: process.env.PATH, LOG_LEVEL: "warn", REDIS_URL: stack.redis.url, QUEUE_PREFIX: prefix, MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-bench-models"), ...storage },
});
await runner.start();

// Everything below is timed from watch events seen by this process.
const t = () => performance.now();
const deploymentEvents: { at: number; replicas: number; ready: number }[] = [];
const jobEvents = new Map<string, { running?: number; succeeded?: number }>();
const watch = new Watch(kc);
const watches = await Promise.all([
  watch.watch(`/apis/apps/v1/namespaces/${namespace}/deployments`, {}, (_type, d: V1Deployment) => {
    deploymentEvents.push({ at: t(), replicas: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0 });
  }, () => undefined),
  watch.watch(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${IMAGEJOB_PLURAL}`, {}, (_type, j: ImageJob) => {
    const seen = jobEvents.get(j.metadata.name!) ?? {};
    if (j.status?.phase === "Running" || j.status?.phase === "Succeeded") seen.running ??= t();
    if (j.status?.phase === "Succeeded") seen.succeeded ??= t();
    jobEvents.set(j.metadata.name!, seen);
  }, () => undefined),
]);

await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, body: {
  apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: "h100" },
  spec: {
    image: "pixelmill/worker:bench", models: ["resize-x2"], gpu: { count: 1, product: H100.product }, maxJobSeconds: 60,
    env: [{ name: "WORKER_CONCURRENCY", value: "2" }],
    autoscaling: { minReplicas: 0, maxReplicas: MAX, targetJobsPerReplica: TARGET, scaleDownWindowSeconds: WINDOW_S },
  },
} });
await until(() => deploymentEvents.length > 0, 20_000, "the pool's Deployment");

const createJob = (name: string) => custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body: {
  apiVersion: `${GROUP}/${VERSION}`, kind: "ImageJob", metadata: { name }, spec: { model: "resize-x2", input: { uri: `s3://${s3.bucket}/${prefix}/inputs/in.png` } },
} });

// 1. One job into a pool at zero.
const firstAt = t();
await createJob("first");
await until(() => jobEvents.get("first")?.succeeded !== undefined, 120_000, "the first job");
const patchedAt = deploymentEvents.find((e) => e.at >= firstAt && e.replicas >= 1)!.at;
const firstStarted = jobEvents.get("first")!.running!;
await until(() => deploymentEvents.some((e) => e.at >= firstAt && e.ready >= 1), 60_000, "the first replica to be ready");
const firstReady = deploymentEvents.find((e) => e.at >= firstAt && e.ready >= 1)!.at;

// 2. A burst on top of the one warm replica.
const burstAt = t();
const names = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
for (let i = 0; i < names.length; i += 25) await Promise.all(names.slice(i, i + 25).map(createJob));
await until(() => names.every((n) => jobEvents.get(n)?.succeeded !== undefined), 600_000, "the burst");
const burstPatched = deploymentEvents.find((e) => e.at >= burstAt && e.replicas >= MAX)?.at;
const allReady = deploymentEvents.find((e) => e.at >= burstAt && e.ready >= MAX)?.at;
const lastDone = Math.max(...names.map((n) => jobEvents.get(n)!.succeeded!));
// The queue was last non-empty when its last job was taken: a list-length scaler's clock starts there.
const lastTaken = Math.max(...names.map((n) => jobEvents.get(n)!.running!));

// 3. Quiet: back to zero after the window.
await until(() => deploymentEvents.some((e) => e.at >= lastDone && e.replicas === 0), (WINDOW_S + 60) * 1000, "the scale-down");
const scaledDown = deploymentEvents.find((e) => e.at >= lastDone && e.replicas === 0)!.at;

const s = (ms: number) => ms / 1000;
const ours = {
  patched: s(patchedAt - firstAt),
  firstStarted: s(firstStarted - firstAt),
  allReady: allReady === undefined ? NaN : s(allReady - burstAt),
  scaledDown: s(scaledDown - lastDone),
};
// The same run under KEDA + HPA: the mean wait for the next poll or sync, plus the parts that do
// not depend on the scaler (pod start, worker start), taken from this run.
const podToRunning = s(firstStarted - patchedAt);
const podsToReady = allReady === undefined || burstPatched === undefined ? NaN : s(allReady - burstPatched);
const keda = {
  patched: KEDA_POLL_S / 2,
  firstStarted: KEDA_POLL_S / 2 + podToRunning,
  allReady: HPA_SYNC_S / 2 + podsToReady,
  scaledDown: s(lastTaken - lastDone) + KEDA_COOLDOWN_S + KEDA_POLL_S / 2,
};
const rows: [string, number, number][] = [
  ["enqueue → replicas patched (0 → 1)", ours.patched, keda.patched],
  ["enqueue → first job started (0 → 1)", ours.firstStarted, keda.firstStarted],
  [`burst of ${BURST} → all ${MAX} replicas ready`, ours.allReady, keda.allReady],
  ["last completion → scaled to zero", ours.scaledDown, keda.scaledDown],
];
console.log(`\nWorkerPool autoscaling, one run (2-core machine; pool max ${MAX}, ${TARGET} jobs per replica, window ${WINDOW_S} s; first replica ready ${s(firstReady - firstAt).toFixed(2)} s after the first enqueue)\n`);
console.log("| stage | Pixelmill (s) | KEDA + HPA defaults (s) | ratio |");
console.log("| --- | ---: | ---: | ---: |");
for (const [name, mine, theirs] of rows) console.log(`| ${name} | ${mine.toFixed(2)} | ${theirs.toFixed(2)} | ${(theirs / mine).toFixed(1)}× |`);
console.log(`\nKEDA + HPA model: next scaler poll (${KEDA_POLL_S} s, mean ${KEDA_POLL_S / 2} s) to activate, next HPA sync (${HPA_SYNC_S} s, mean ${HPA_SYNC_S / 2} s) to scale out,`);
console.log(`cooldownPeriod ${KEDA_COOLDOWN_S} s after the queue was last non-empty to scale to zero; pod and worker start times from this run.`);

for (const w of watches) w.abort();
await runner.stop();
await operator.stop();
await stack.stop();
process.exit(0);

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (deployment events: ${JSON.stringify(deploymentEvents.slice(-5))})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
