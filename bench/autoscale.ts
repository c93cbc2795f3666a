/**
 * `npm run bench:autoscale`: how fast a WorkerPool follows its queue on the local cluster
 * (kube-apiserver, controller-manager, scheduler, KWOK GPU nodes, real worker processes through
 * the pod runner), beside the real KEDA + HPA doing the same on the same cluster, queue and
 * workers in the same run (bench/keda/: KEDA's operator and metrics adapter, built by
 * hack/build-keda.sh; the apiserver's aggregation layer and the HPA controller).
 *
 *   --jobs N        burst size (default 400)
 *   --window S      the pool's scaleDownWindowSeconds (default 120, the CRD's default)
 *   --keda WHICH    none | fast | defaults | both (default fast): the KEDA runs after ours;
 *                   defaults waits out KEDA's 300 s cooldown, so adds about six minutes
 *   --hpa-sync S    kube-controller-manager's --horizontal-pod-autoscaler-sync-period (default 15, its default)
 *   --size PX       side of the square input image (default 1024): how long each job takes
 *
 * Times are taken by this process from watch events, so they include the apiserver round trips.
 */
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Watch, type V1Deployment } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, WORKERPOOL_PLURAL, type ImageJob, type WorkerPoolSpec } from "../common/crd-types.js";
import { INPUT_BUCKETS_ANNOTATION } from "../common/job/input-grants.js";
import { createLogger } from "../common/logger.js";
import { queueName } from "../common/queue.js";
import { createObjectStore } from "../common/storage/index.js";
import { loadConfig } from "../common/config.js";
import { startOperator } from "../operator/operator.js";
import { deploymentName } from "../operator/controllers/workerpool/worker-deployment.js";
import { projectRoot } from "../devstack/binaries.js";
import { H100 } from "../devstack/gpu-nodes.js";
import { applyManifests, readManifests } from "../devstack/manifests.js";
import { createPodRunner } from "../devstack/pod-runner.js";
import { startStack } from "../devstack/stack.js";
import { startKeda } from "./keda/keda.js";
import { freeStandingWorkerDeployment, KEDA_PROFILES, scaledObject, type KedaProfile } from "./keda/scaled-object.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
// A burst must outlast the HPA's 15 s sync for KEDA's 1 → N to show: 400 jobs of 1024² keep
// this 2-core machine busy for about 40 s (200 of 384², the old default, for about 5 s).
const BURST = Number(arg("jobs", "400"));
const WINDOW_S = Number(arg("window", "120"));
const KEDA_ARG = arg("keda", "fast");
const HPA_SYNC_S = Number(arg("hpa-sync", "15"));
const SIZE = Number(arg("size", "1024"));
const PROFILES: Record<string, KedaProfile[]> = { none: [], fast: ["fast"], defaults: ["defaults"], both: ["defaults", "fast"] };
const profiles = PROFILES[KEDA_ARG];
if (!profiles) throw new Error(`--keda must be one of ${Object.keys(PROFILES).join(", ")}, not ${KEDA_ARG}`);
const MAX = 4;
const TARGET = 5;
// KEDA + HPA defaults, for the model column when the defaults are not measured: KEDA polls every
// 30 s (0 → 1), the HPA syncs every 15 s (1 → N), cooldownPeriod 300 s after the last active poll (→ 0).
const KEDA_POLL_S = 30;
const KEDA_COOLDOWN_S = 300;

const namespace = "bench";
const prefix = `bench-${Date.now().toString(36)}`;
const benchLog = (m: string) => console.error(`[bench] ${m}`);
const stack = await startStack({ s3: true, hpa: profiles.length ? { syncPeriodSeconds: HPA_SYNC_S } : undefined, log: benchLog });
const kc = new KubeConfig();
kc.loadFromFile(stack.kubeconfigPath);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const log = createLogger({ level: "warn" });
const s3 = stack.s3!;
const storage = { STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true" };

await core.createNamespace({ body: { metadata: { name: namespace, annotations: { [INPUT_BUCKETS_ANNOTATION]: s3.bucket } } } });
await applyManifests(kc, await readManifests(join(projectRoot, "models/manifests")), namespace);
const store = createObjectStore(loadConfig({ ...storage }));
// The input's side sets how long a job takes, so how long a burst keeps the pool busy.
const input = await sharp({ create: { width: SIZE, height: SIZE, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).png().toBuffer();
await store.put("inputs/in.png", input, { contentType: "image/png" });
store.close();
const operator = await startOperator({ kc, redisUrl: stack.redis.url, queuePrefix: prefix, namespace, log });
const runner = createPodRunner({
  kc, namespace, logDir: join(stack.dir, "workers"),
  baseEnv: { PATH: process.env.PATH, LOG_LEVEL: "warn", REDIS_URL: stack.redis.url, QUEUE_PREFIX: prefix, MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-bench-models"), ...storage },
});
await runner.start();
const keda = profiles.length ? await startKeda({ kc, kubeconfigPath: stack.kubeconfigPath, dir: stack.dir, watchNamespace: namespace, log: benchLog }) : undefined;

// Everything below is timed from watch events seen by this process.
const t = () => performance.now();
const deploymentEvents: { at: number; name: string; deleted: boolean; replicas: number; ready: number }[] = [];
const jobEvents = new Map<string, { running?: number; succeeded?: number }>();
const watches = [
  keepWatching(`/apis/apps/v1/namespaces/${namespace}/deployments`, (type, d: V1Deployment) => {
    deploymentEvents.push({ at: t(), name: d.metadata!.name!, deleted: type === "DELETED", replicas: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0 });
  }),
  keepWatching(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${IMAGEJOB_PLURAL}`, (_type, j: ImageJob) => {
    const seen = jobEvents.get(j.metadata.name!) ?? {};
    if (j.status?.phase === "Running" || j.status?.phase === "Succeeded") seen.running ??= t();
    if (j.status?.phase === "Succeeded") seen.succeeded ??= t();
    jobEvents.set(j.metadata.name!, seen);
  }),
];
await Promise.all(watches.map((w) => w.started));

const model = "resize-x2";
const poolSpec: WorkerPoolSpec = {
  image: "pixelmill/worker:bench", models: [model], gpu: { count: 1, product: H100.product }, maxJobSeconds: 60,
  env: [{ name: "WORKER_CONCURRENCY", value: "2" }],
};
const createJob = (name: string) => custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body: {
  apiVersion: `${GROUP}/${VERSION}`, kind: "ImageJob", metadata: { name }, spec: { model, input: { uri: `s3://${s3.bucket}/${prefix}/inputs/in.png` } },
} });

interface Result {
  patched: number;
  firstStarted: number;
  firstReady: number;
  /** NaN: the scaler never had all replicas ready before the burst was done. */
  allReady: number;
  burstDone: number;
  /** The most replicas the scaler asked for between the burst and its last completion. */
  burstPeak: number;
  scaledDown: number;
  /** Parts that do not depend on the scaler, for the model column. */
  podToRunning: number;
  podsToReady: number;
  lastTakenToDone: number;
  tookS: number;
}

/** One job into `deployment` at zero, a burst on its warm replica, the quiet after; jobs named `<tag>-...`. */
async function scenario(tag: string, deployment: string, scaleDownTimeoutS: number): Promise<Result> {
  const startedAt = t();
  const ev = (since: number, pred: (e: (typeof deploymentEvents)[number]) => boolean) => deploymentEvents.find((e) => e.name === deployment && e.at >= since && pred(e))?.at;
  // 1. One job into a pool at zero.
  const firstAt = t();
  await createJob(`${tag}-first`);
  await until(() => jobEvents.get(`${tag}-first`)?.succeeded !== undefined, 120_000, `the first job (${tag})`);
  const patchedAt = ev(firstAt, (e) => e.replicas >= 1)!;
  const firstStarted = jobEvents.get(`${tag}-first`)!.running!;
  await until(() => ev(firstAt, (e) => e.ready >= 1) !== undefined, 60_000, `the first replica to be ready (${tag})`);
  const firstReady = ev(firstAt, (e) => e.ready >= 1)!;

  // 2. A burst on top of the one warm replica.
  const burstAt = t();
  const names = Array.from({ length: BURST }, (_, i) => `${tag}-burst-${i}`);
  for (let i = 0; i < names.length; i += 25) await Promise.all(names.slice(i, i + 25).map(createJob));
  await until(() => names.every((n) => jobEvents.get(n)?.succeeded !== undefined), 600_000, `the burst (${tag})`);
  const burstPatched = ev(burstAt, (e) => e.replicas >= MAX);
  const allReady = ev(burstAt, (e) => e.ready >= MAX);
  const lastDone = Math.max(...names.map((n) => jobEvents.get(n)!.succeeded!));
  const atBurst = deploymentEvents.findLast((e) => e.name === deployment && e.at < burstAt)?.replicas ?? 0;
  const burstPeak = Math.max(atBurst, ...deploymentEvents.filter((e) => e.name === deployment && e.at >= burstAt && e.at <= lastDone).map((e) => e.replicas));
  // The queue was last non-empty when its last job was taken: a list-length scaler's clock starts there.
  const lastTaken = Math.max(...names.map((n) => jobEvents.get(n)!.running!));

  // 3. Quiet: back to zero.
  await until(() => ev(lastDone, (e) => e.replicas === 0) !== undefined, scaleDownTimeoutS * 1000, `the scale-down (${tag})`);
  const scaledDown = ev(lastDone, (e) => e.replicas === 0)!;
  return {
    patched: s(patchedAt - firstAt),
    firstStarted: s(firstStarted - firstAt),
    firstReady: s(firstReady - firstAt),
    allReady: allReady === undefined ? NaN : s(allReady - burstAt),
    burstDone: s(lastDone - burstAt),
    burstPeak,
    scaledDown: s(scaledDown - lastDone),
    podToRunning: s(firstStarted - patchedAt),
    podsToReady: allReady === undefined || burstPatched === undefined ? NaN : s(allReady - burstPatched),
    lastTakenToDone: s(lastTaken - lastDone),
    tookS: s(t() - startedAt),
  };
}

async function gone(deployment: string): Promise<void> {
  await until(() => deploymentEvents.some((e) => e.name === deployment && e.deleted), 60_000, `${deployment} to be deleted`);
}

// Unmeasured: one job through a worker started by hand, so that no scenario pays for the first
// worker start on this machine (transpile cache, model files), whichever runs first.
const warmup = freeStandingWorkerDeployment("warmup", namespace, poolSpec);
await apps.createNamespacedDeployment({ namespace, body: { ...warmup, spec: { ...warmup.spec!, replicas: 1 } } });
await createJob("warmup");
await until(() => jobEvents.get("warmup")?.succeeded !== undefined, 180_000, "the warm-up job");
await apps.deleteNamespacedDeployment({ namespace, name: warmup.metadata!.name! });
await gone(warmup.metadata!.name!);

// Ours: a WorkerPool the operator scales.
await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, body: {
  apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: "h100" },
  spec: { ...poolSpec, autoscaling: { minReplicas: 0, maxReplicas: MAX, targetJobsPerReplica: TARGET, scaleDownWindowSeconds: WINDOW_S } },
} });
await until(() => deploymentEvents.some((e) => e.name === deploymentName("h100")), 20_000, "the pool's Deployment");
const ours = await scenario("pixelmill", deploymentName("h100"), WINDOW_S + 60);
benchLog(`Pixelmill scenario took ${ours.tookS.toFixed(0)} s`);

// KEDA: the same pod template in a Deployment of its own, scaled by a ScaledObject on the same
// queue. The pool goes first, so the operator no longer scales anything for this model.
const theirs = new Map<KedaProfile, Result>();
if (profiles.length) {
  await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKERPOOL_PLURAL, name: "h100" });
  await gone(deploymentName("h100"));
}
// BullMQ keeps a prioritized job (every job of ours: common/queue.ts) in a zset and a taken one in
// the active list; with both as triggers KEDA stays active while any job is left.
const keys = [`${prefix}:${queueName(model)}:prioritized`, `${prefix}:${queueName(model)}:active`];
for (const profile of profiles) {
  const name = `keda-${profile}`;
  const deployment = freeStandingWorkerDeployment(name, namespace, poolSpec);
  await apps.createNamespacedDeployment({ namespace, body: deployment });
  const so = scaledObject({ name, namespace, deployment: deployment.metadata!.name!, redisUrl: stack.redis.url, keys, perReplica: TARGET, maxReplicas: MAX, profile });
  await custom.createNamespacedCustomObject({ group: "keda.sh", version: "v1alpha1", namespace, plural: "scaledobjects", body: so });
  await untilAsync(async () => {
    const got = (await custom.getNamespacedCustomObject({ group: "keda.sh", version: "v1alpha1", namespace, plural: "scaledobjects", name })) as { status?: { conditions?: { type: string; status: string }[] } };
    return got.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  }, 60_000, `ScaledObject ${name} Ready`, 250);
  const cooldown = profile === "defaults" ? KEDA_COOLDOWN_S + KEDA_POLL_S : 10;
  const result = await scenario(name, deployment.metadata!.name!, cooldown + 90);
  benchLog(`KEDA ${profile} scenario took ${result.tookS.toFixed(0)} s`);
  // What the HPA and KEDA did, from their events, to read beside the table.
  for (const e of (await core.listNamespacedEvent({ namespace })).items) {
    if (["HorizontalPodAutoscaler", "ScaledObject"].includes(e.involvedObject.kind ?? "") && e.involvedObject.name?.includes(name)) {
      benchLog(`  ${e.involvedObject.kind} ${e.reason} ×${e.count ?? 1} (last ${new Date(e.lastTimestamp ?? e.eventTime ?? 0).toISOString()}): ${e.message}`);
    }
  }
  theirs.set(profile, result);
  await custom.deleteNamespacedCustomObject({ group: "keda.sh", version: "v1alpha1", namespace, plural: "scaledobjects", name });
  await apps.deleteNamespacedDeployment({ namespace, name: deployment.metadata!.name! });
  await gone(deployment.metadata!.name!);
}

// Without a measured KEDA at its defaults, a model of it: the mean wait for the next poll or
// sync, plus the parts that do not depend on the scaler (pod start, worker start) from our run.
const modelled: Result | undefined = theirs.has("defaults") ? undefined : {
  ...ours,
  patched: KEDA_POLL_S / 2,
  firstStarted: KEDA_POLL_S / 2 + ours.podToRunning,
  firstReady: KEDA_POLL_S / 2 + (ours.firstReady - ours.patched),
  allReady: HPA_SYNC_S / 2 + ours.podsToReady,
  burstDone: NaN,
  burstPeak: NaN,
  scaledDown: ours.lastTakenToDone + KEDA_COOLDOWN_S + KEDA_POLL_S / 2,
};
const columns: [string, Result][] = [
  ...(theirs.has("defaults") ? [["KEDA defaults", theirs.get("defaults")!] as [string, Result]] : []),
  ...(theirs.has("fast") ? [["KEDA fastest", theirs.get("fast")!] as [string, Result]] : []),
  ...(modelled ? [["KEDA defaults, modelled", modelled] as [string, Result]] : []),
];
const rows: [string, (r: Result) => number][] = [
  ["enqueue → replicas patched (0 → 1)", (r) => r.patched],
  ["enqueue → first job started (0 → 1)", (r) => r.firstStarted],
  ["enqueue → first replica ready (0 → 1)", (r) => r.firstReady],
  [`burst of ${BURST} → all ${MAX} replicas ready`, (r) => r.allReady],
  [`burst of ${BURST} → last job done`, (r) => r.burstDone],
  ["last completion → scaled to zero", (r) => r.scaledDown],
];
const cell = (v: number) => (Number.isNaN(v) ? "—" : v.toFixed(2));
const count = (v: number) => (Number.isNaN(v) ? "—" : String(v));
const ratio = (theirsS: number, oursS: number) => {
  const r = theirsS / oursS;
  return Number.isNaN(r) ? "—" : `${r.toFixed(r < 0.1 ? 2 : 1)}×`;
};
console.log(`\nWorkerPool autoscaling beside KEDA${keda ? ` ${keda.version}` : ""}, one run (2-core machine; max ${MAX} replicas, ${TARGET} jobs per replica; our scale-down window ${WINDOW_S} s)\n`);
console.log(`| stage | Pixelmill (s) |${columns.map(([c]) => ` ${c} (s) | ratio |`).join("")}`);
console.log(`| --- | ---: |${columns.map(() => " ---: | ---: |").join("")}`);
for (const [label, get] of rows) {
  console.log(`| ${label} | ${cell(get(ours))} |${columns.map(([, r]) => ` ${cell(get(r))} | ${ratio(get(r), get(ours))} |`).join("")}`);
}
console.log(`| most replicas asked for during the burst | ${count(ours.burstPeak)} |${columns.map(([, r]) => ` ${count(r.burstPeak)} | |`).join("")}`);
console.log(`\nEach scenario took: Pixelmill ${ours.tookS.toFixed(0)} s${[...theirs].map(([p, r]) => `, KEDA ${p} ${r.tookS.toFixed(0)} s`).join("")}.`);
console.log("— : not reached (all replicas were never ready before the burst was done) or not modelled.");
if (keda) {
  console.log(`KEDA: a ScaledObject (min 0, max ${MAX}) on a Deployment with the pool's pod template, two redis triggers (listLength ${TARGET}) on the queue's`);
  console.log(`prioritized zset and active list; HPA controller sync period ${HPA_SYNC_S} s (kube-controller-manager's flag, not a KEDA setting).`);
  for (const p of profiles) console.log(`  ${p}: ${KEDA_PROFILES[p]}`);
}
if (modelled) {
  console.log(`Modelled KEDA defaults: next poll (${KEDA_POLL_S} s, mean ${KEDA_POLL_S / 2} s) to activate, next HPA sync (${HPA_SYNC_S} s, mean ${HPA_SYNC_S / 2} s) to scale out,`);
  console.log(`cooldownPeriod ${KEDA_COOLDOWN_S} s after the queue was last non-empty to scale to zero; pod and worker start times from our run.`);
}

for (const w of watches) w.stop();
await runner.stop();
await keda?.stop();
await operator.stop();
await stack.stop();
process.exit(0);

/**
 * A watch that starts again when the apiserver or the connection ends it (a long quiet scale-down
 * window outlives some), so no scaling event is missed; a restart's ADDED events repeat the
 * current state, which the checks above read as they read any other event.
 */
function keepWatching<T>(path: string, onEvent: (type: string, obj: T) => void): { started: Promise<void>; stop(): void } {
  const watch = new Watch(kc);
  let stopped = false;
  let current: AbortController | undefined;
  const start = async (): Promise<void> => {
    current = await watch.watch(path, {}, onEvent, (err: unknown) => {
      if (stopped) return;
      // The client ends a watch that is quiet for a while (TimeoutError): expected, not worth a line.
      if (!(err instanceof Error && err.name === "TimeoutError")) benchLog(`watch of ${path} ended${err ? ` (${err instanceof Error ? err.message : JSON.stringify(err)})` : ""}; watching again`);
      setTimeout(() => void start().catch((e: unknown) => benchLog(`watch of ${path} could not restart: ${e instanceof Error ? e.message : JSON.stringify(e)}`)), 100);
    });
  };
  return { started: start(), stop: () => { stopped = true; current?.abort(); } };
}

function s(ms: number): number {
  return ms / 1000;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await untilAsync(() => Promise.resolve(check()), timeoutMs, what);
}

async function untilAsync(check: () => Promise<boolean>, timeoutMs: number, what: string, delayMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (deployment events: ${JSON.stringify(deploymentEvents.slice(-5))})`);
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
