/**
 * `npm run bench:scale`: the control plane at many replicas and stepped job rates. The local
 * cluster (kube-apiserver + etcd, controller-manager, scheduler, KWOK) gets `--nodes` fake H100
 * nodes; `--pools` WorkerPools of up to `--max-replicas` each are scaled by the real operator
 * (its own process); their pods are served by simulated workers: the real worker code in this
 * process, one per pod, with a modelled inference time in place of the model
 * (bench/scale/simulated-worker.ts). The API runs beside it (its own process) for the Postgres
 * mirror, which deletes finished ImageJobs (ADR 0018); `--no-mirror` leaves it out. ImageJobs are
 * created straight through the apiserver at each rate of `--rates` for `--step-s` seconds.
 *
 *   --nodes 200  --pools 1  --max-replicas 300  --target 2  --concurrency 2
 *   --infer-ms 2000  --infer-sigma 0.25  --rates 10,50,100  --step-s 30  --window 60  --no-mirror
 *
 * Per step it prints jobs/s created and finished, the autoscaler's reaction, apiserver requests
 * by verb and resource, CPU and RSS of every process, Redis, Postgres, live ImageJobs and etcd's size.
 */
import { join } from "node:path";
import { mkdir, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import sharp from "sharp";
import { z } from "zod";
import { Redis } from "ioredis";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, WORKERPOOL_PLURAL } from "../common/crd-types.js";
import { createLogger } from "../common/logger.js";
import { Registry } from "../common/metrics.js";
import { projectRoot } from "../devstack/binaries.js";
import { startComponent } from "../devstack/components.js";
import { ensureDevKey } from "../devstack/dev-key.js";
import { gpuNodeManifest, H100, isNodeSchedulable, kwokNodes } from "../devstack/gpu-nodes.js";
import { applyManifests, readManifests } from "../devstack/manifests.js";
import { createPodRunner } from "../devstack/pod-runner.js";
import { ensureDatabase } from "../devstack/postgres.js";
import { freePort, waitUntil, type Managed } from "../devstack/processes.js";
import { startStack } from "../devstack/stack.js";
import { migrate } from "../prisma/migrate.js";
import { lognormalDelay } from "./scale/inference-time.js";
import { printReport, type StepResult } from "./scale/report.js";
import { simulatedWorkers } from "./scale/simulated-worker.js";
import { snapshot, type SnapshotSources } from "./scale/snapshot.js";
import { Timeline } from "./scale/timeline.js";

const FLAGS = ["nodes", "pools", "max-replicas", "target", "concurrency", "infer-ms", "infer-sigma", "rates", "step-s", "window", "drain-s"];
const { values } = parseArgs({ options: { ...Object.fromEntries(FLAGS.map((name) => [name, { type: "string" as const }])), "no-mirror": { type: "boolean" } } });
const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const opts = z.object({
  nodes: int(200), pools: int(1), "max-replicas": int(300), target: int(2), concurrency: int(2),
  "infer-ms": z.coerce.number().nonnegative().default(2000), "infer-sigma": z.coerce.number().nonnegative().default(0.25),
  rates: z.string().default("10,50,100").transform((s) => s.split(",").map(Number)).pipe(z.array(z.number().positive()).min(1)),
  "step-s": int(30), window: int(60), "drain-s": int(120), "no-mirror": z.boolean().default(false),
}).parse(values);

const NAMESPACE = "scale";
const PREFIX = "pixelmill-scale";
const INPUT_KEY = `uploads/${NAMESPACE}/in.png`;
/** Creates in flight at once: enough for 100+ jobs/s at the apiserver's latency under load. */
const MAX_IN_FLIGHT = 64;
const holds = (check: () => boolean) => () => Promise.resolve(check());
const say = (m: string) => console.error(`[scale] ${m}`);
const log = createLogger({ level: "warn", name: "bench-scale" });

const stack = await startStack({ ownServices: true, log: say });
const kc = new KubeConfig();
kc.loadFromFile(stack.kubeconfigPath);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const storageDir = join(stack.dir, "storage");
const storage = { STORAGE_URL: `file://${storageDir}` };
await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });

// The models: copies of one built-in manifest, one per pool (one queue each); the simulated runner never loads them.
const [template] = (await readManifests(join(projectRoot, "models/manifests"))).filter((m) => m.metadata?.name === "grayscale");
const models = Array.from({ length: opts.pools }, (_, i) => `sim-${i}`);
await applyManifests(kc, models.map((name) => ({ ...template!, metadata: { name } })), NAMESPACE);
const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#4a7" } }).png().toBuffer();
await mkdir(join(storageDir, "uploads", NAMESPACE), { recursive: true });
await writeFile(join(storageDir, INPUT_KEY), png);

const nodes = await createNodes(opts.nodes);
const env = { ...process.env, ...storage, LOG_LEVEL: "warn", KUBECONFIG: stack.kubeconfigPath, REDIS_URL: stack.redis.url, QUEUE_PREFIX: PREFIX, PIXELMILL_NAMESPACE: NAMESPACE };
const roles = new Map<number, string>();
const children: Managed[] = [];
let databaseUrl: string | undefined;
if (!opts["no-mirror"]) {
  databaseUrl = await ensureDatabase(stack.postgres.url, "pixelmill");
  await migrate(databaseUrl, { migrationsDir: join(projectRoot, "prisma/migrations") });
  await ensureDevKey(databaseUrl, NAMESPACE, join(stack.dir, "dev-key")); // the tenant of the namespace: the mirror deletes only tenants' jobs
  const port = await freePort();
  const api = startComponent("api", { ...env, DATABASE_URL: databaseUrl, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }, stack.dir);
  children.push(api);
  roles.set(api.pid, "api");
  await waitUntil("the API's /readyz", () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false), { timeoutMs: 120_000, process: api });
}
const operatorPort = await freePort();
const operator = startComponent("operator", { ...env, HEALTH_PORT: String(operatorPort) }, stack.dir);
children.push(operator);
roles.set(operator.pid, "operator");

const metrics = new Registry();
const runner = createPodRunner({
  kc, namespace: NAMESPACE, logDir: join(stack.dir, "pods"), nodeNames: [...kwokNodes(), ...nodes], log: createLogger({ level: "warn", name: "pod-runner" }),
  // Storage is checked every 30 s per worker, not every 2 s: hundreds of them share one folder here.
  // No result cache: every job has the same input, and each must take its modelled time.
  baseEnv: { ...storage, LOG_LEVEL: "warn", REDIS_URL: stack.redis.url, QUEUE_PREFIX: PREFIX, HEALTH_CHECK_INTERVAL_MS: "30000", RESULT_CACHE_TTL_SECONDS: "0" },
  container: simulatedWorkers({ delayMs: lognormalDelay(opts["infer-ms"], opts["infer-sigma"]), image: { body: png, contentType: "image/png", width: 8, height: 8 }, log, metrics }),
});
await runner.start();
const timeline = new Timeline();
await timeline.start(kc, NAMESPACE, log);
for (const model of models) {
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: WORKERPOOL_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: model },
    spec: {
      image: "pixelmill/worker:simulated", models: [model], gpu: { count: 1, product: H100.product }, maxJobSeconds: 60,
      env: [{ name: "WORKER_CONCURRENCY", value: String(opts.concurrency) }],
      autoscaling: { minReplicas: 0, maxReplicas: opts["max-replicas"], targetJobsPerReplica: opts.target, scaleDownWindowSeconds: opts.window },
    },
  } });
}
await waitUntil("the pools' Deployments", holds(() => timeline.replicas.length > models.length), { timeoutMs: 60_000, process: operator });

const redis = new Redis(stack.redis.url);
const sources: SnapshotSources = { kc, namespace: NAMESPACE, redis, databaseUrl, roles, operatorMetricsUrl: `http://127.0.0.1:${operatorPort}/metrics` };
say(`${nodes.length} nodes, ${opts.pools} pool(s) of up to ${opts["max-replicas"]}, ${opts["infer-ms"]} ms inference (σ ${opts["infer-sigma"]}); steps ${opts.rates.join(", ")} jobs/s × ${opts["step-s"]} s`);
const steps: StepResult[] = [];
for (const [i, rate] of opts.rates.entries()) {
  const before = await snapshot(sources);
  const from = performance.now();
  const created = await createAtRate(rate, opts["step-s"], `s${i}`);
  const to = performance.now();
  const after = await snapshot(sources);
  steps.push({ rate, created, seconds: (to - from) / 1000, from, to, before, after, finished: timeline.finished(from, to) });
  say(`step ${rate} jobs/s: ${created} created in ${((to - from) / 1000).toFixed(1)} s, ${steps.at(-1)!.finished.count} finished, replicas ${timeline.at(to).replicas} (${timeline.at(to).ready} ready), load ${after.load1.toFixed(2)}`);
}
// Drain: every job finished, then the pools back to zero after their window.
const total = timeline.created.size;
const drainFrom = performance.now();
await waitUntil("every job to finish", holds(() => timeline.succeeded.size >= total), { timeoutMs: opts["drain-s"] * 1000 }).catch((err: Error) => say(err.message));
const succeeded = timeline.succeeded.size;
const lastDone = Math.max(...timeline.succeeded.values());
await waitUntil("the pools to scale to zero", holds(() => timeline.at(performance.now()).replicas === 0 && timeline.at(performance.now()).ready === 0), { timeoutMs: (opts.window + 90) * 1000 })
  .catch((err: Error) => say(err.message));
const zero = timeline.replicas.find((e) => e.at >= lastDone && e.replicas === 0)?.at ?? NaN;
printReport({ opts, steps, timeline, drain: { jobs: total, succeeded, lastMs: lastDone - drainFrom, zeroMs: zero - lastDone } });

await timeline.stop();
redis.disconnect();
await runner.stop();
await Promise.all(children.map((c) => c.stop(30_000)));
await stack.stop();
process.exit(0);

/** `count` fake H100 nodes for KWOK to keep Ready; resolves once the scheduler may place pods on all. */
async function createNodes(count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `kwok-scale-${i}`);
  for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((name) => core.createNode({ body: gpuNodeManifest(name, H100) })));
  await waitUntil(`${count} nodes to be schedulable`, async () => {
    const list = await core.listNode({ labelSelector: "type=kwok" });
    return list.items.filter((n) => n.metadata!.name!.startsWith("kwok-scale-") && isNodeSchedulable(n)).length === count;
  }, { timeoutMs: 180_000 });
  return names;
}

/** Creates ImageJobs at `rate` per second for `seconds` (never more than MAX_IN_FLIGHT at once); resolves with how many were created. */
async function createAtRate(rate: number, seconds: number, tag: string): Promise<number> {
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  let created = 0;
  for (let n = 0; n < total; n++) {
    const due = start + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    const name = `${tag}-${n}`;
    const model = models[n % models.length]!;
    const sent = performance.now();
    const p: Promise<void> = custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: IMAGEJOB_PLURAL, body: {
      apiVersion: `${GROUP}/${VERSION}`, kind: "ImageJob", metadata: { name }, spec: { model, input: { uri: `upload:${INPUT_KEY}` } },
    } }).then(() => {
      created++;
      timeline.created.set(name, sent);
    }, (err: unknown) => say(`create ${name} failed: ${String(err).slice(0, 200)}`)).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return created;
}
