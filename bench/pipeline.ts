/**
 * `npm run bench:pipeline`: jobs/s through the whole platform on this machine, and what each job
 * costs the apiserver, Postgres and Redis, beside bare BullMQ's jobs/s on the same Redis in the
 * same run (the floor). Starts its own stack (kube-apiserver + etcd, controller-manager,
 * scheduler, KWOK, Redis, Postgres, S3), the operator and the API (with its mirror) as their own
 * processes, and a WorkerPool of fixed size whose pods the pod runner runs as worker processes;
 * then `--clients` clients submit `--jobs` tiny images (a distinct 4×4 PNG each, so the result
 * cache never answers) over HTTP, multipart, as a user would.
 *
 *   --jobs N          jobs measured (default 400); a warm-up of 2 × workers × concurrency goes first
 *   --clients N       concurrent HTTP clients (default 8)
 *   --workers N       worker pods (default 2), --concurrency N jobs at once each (default 2, WORKER_CONCURRENCY's default)
 *   --model NAME      built-in model (default grayscale)
 *   --observe sse     also follow each job through the API's SSE (GET /v1/jobs/:id/events); default: one watch only
 *   --cpu-prof        run the API, operator and workers with Node's --cpu-prof; prints the top self time
 *                     of each, counting only the samples between the first submit and the last job's end
 *   --delete-after S  MIRROR_DELETE_FINISHED_AFTER_SECONDS for the API (default: the platform's)
 *   --log-level L     LOG_LEVEL of the platform's processes (default info, the platform's default)
 *
 * Sustained load (bench/pipeline/sustained.ts), instead of the burst of --jobs:
 *   --sustained S     submit at a steady rate for S seconds (open loop, a fixed schedule), then wait for the
 *                     tail to end and the mirror to delete it; prints a timeline of live ImageJobs, etcd's
 *                     database size and Redis' memory, and judges the live ImageJobs against the bound
 *                     rate × (time to finish + delete delay)
 *   --rate R          jobs/s offered (default 10: what this shared 2-core machine sustained)
 *   --sample-every S  seconds between timeline rows (default 10)
 *   --clients N       with --sustained: submits in flight at most (default 16)
 *
 * Latencies are taken by this process: submit is before the POST, started/succeeded are when a
 * watch of ImageJobs (or SSE, with --observe sse) first shows Running (or an end) and Succeeded.
 * Counts come from the servers themselves: the apiserver's apiserver_request_total, Postgres'
 * pg_stat_database and pg_stat_user_tables, Redis' INFO commandstats, before and after.
 */
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_MIRROR_DELETE_AFTER_SECONDS } from "../common/job/retention.js";
import { cpuByRole, cpuSampler, cpuSnapshot } from "./pipeline/cpu.js";
import { bareBullmq } from "./pipeline/floor.js";
import { followSse, submitAll, watchJobs, type JobTimes } from "./pipeline/clients.js";
import { tinyImages } from "./pipeline/images.js";
import { until } from "./pipeline/wait.js";
import { NAMESPACE, startPlatform } from "./pipeline/platform.js";
import { summarizeProfiles } from "./pipeline/profile.js";
import { printReport } from "./pipeline/report.js";
import { readCounters } from "./pipeline/snapshot.js";
import { queueTimes } from "./pipeline/queue-times.js";
import { connectionSampler } from "./pipeline/sockets.js";
import { runSustained } from "./pipeline/sustained.js";

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const JOBS = Number(arg("jobs", "400"));
const SUSTAINED = flag("sustained") ? Number(arg("sustained", "")) : undefined;
const RATE = Number(arg("rate", "10"));
const CLIENTS = Number(arg("clients", SUSTAINED === undefined ? "8" : "16"));
const WORKERS = Number(arg("workers", "2"));
const CONCURRENCY = Number(arg("concurrency", "2"));
const MODEL = arg("model", "grayscale");
const OBSERVE = arg("observe", "watch");
const DELETE_AFTER = process.argv.includes("--delete-after") ? Number(arg("delete-after", "")) : undefined;
const WARMUP = 2 * WORKERS * CONCURRENCY;
const log = (m: string) => console.error(`[bench] ${m}`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(", ");

if (SUSTAINED !== undefined && !(SUSTAINED > 0 && RATE > 0 && CLIENTS > 0)) throw new Error("--sustained S, --rate R and --clients N must be positive numbers");
if (SUSTAINED !== undefined && (flag("cpu-prof") || OBSERVE !== "watch")) throw new Error("--sustained follows jobs with one watch and takes no profiles: leave out --cpu-prof and --observe");
const loadAtStart = load();
const profileDir = flag("cpu-prof") ? join(tmpdir(), `pixelmill-pipeline-prof-${Date.now().toString(36)}`) : undefined;
const platform = await startPlatform({ model: MODEL, workers: WORKERS, concurrency: CONCURRENCY, profileDir, deleteAfterSeconds: DELETE_AFTER, logLevel: arg("log-level", "info"), log });
if (SUSTAINED !== undefined) {
  try {
    await runSustained({
      platform, model: MODEL, workers: WORKERS, concurrency: CONCURRENCY, rate: RATE, seconds: SUSTAINED, maxInFlight: CLIENTS,
      sampleEveryS: Number(arg("sample-every", "10")), deleteAfterS: DELETE_AFTER ?? DEFAULT_MIRROR_DELETE_AFTER_SECONDS, log,
    });
  } finally {
    await platform.stopProcesses().catch(() => undefined);
    await platform.stack.stop();
  }
  process.exit(0);
}
const { kc, key, apiUrl } = platform;
const deleteWaitMs = ((DELETE_AFTER ?? DEFAULT_MIRROR_DELETE_AFTER_SECONDS) + 60) * 1000;
try {
  const times = new Map<string, JobTimes>();
  const watch = await watchJobs(kc, NAMESPACE, times, log);
  const images = await tinyImages(WARMUP + JOBS);
  const submit = { url: apiUrl, key, model: MODEL, clients: CLIENTS };

  // Warm-up: each worker loads the model, every connection is open; then its jobs are left to be deleted, so none of its writes fall in the count.
  const warm = await submitAll({ ...submit, images: images.slice(0, WARMUP) }, times);
  if (warm.accepted.length !== WARMUP) throw new Error(`warm-up: ${warm.accepted.length}/${WARMUP} accepted, refused ${JSON.stringify([...warm.refused])}`);
  await until(() => warm.accepted.every((u) => times.get(u)?.finished !== undefined), 120_000, "the warm-up jobs to finish");
  log(`warm-up: ${WARMUP} jobs done; waiting for the mirror to delete them`);
  const warmGone = await until(() => warm.accepted.every((u) => times.get(u)?.deleted !== undefined), deleteWaitMs, "", false);
  if (!warmGone) log("warm-up jobs still in etcd: their deletes will count in the run's writes");

  const sources = { kc, databaseUrl: platform.databaseUrl, redisUrl: platform.stack.redis.url, clientMetricsUrls: { api: `${apiUrl}/metrics`, operator: platform.operatorMetricsUrl } };
  const before = await readCounters(sources);
  const cpuBefore = cpuSnapshot(platform.roleOf);
  const sampler = cpuSampler(platform.roleOf);
  const portOf = (url: string) => Number(new URL(url).port);
  const conns = connectionSampler({
    apiserver: portOf(kc.getCurrentCluster()!.server), postgres: portOf(platform.databaseUrl), redis: portOf(platform.stack.redis.url),
    s3: portOf(platform.stack.s3!.endpoint), api: portOf(apiUrl),
  });
  const loadBefore = load();
  log(`submitting ${JOBS} jobs with ${CLIENTS} clients (load average ${loadBefore})`);
  const sseTimes = new Map<string, JobTimes>();
  const sse: Promise<void>[] = [];
  const run = await submitAll({
    ...submit, images: images.slice(WARMUP),
    onAccepted: OBSERVE === "sse" ? (uid, url) => {
      const t: JobTimes = { submitted: times.get(uid)!.submitted, accepted: times.get(uid)!.accepted };
      sseTimes.set(uid, t);
      sse.push(followSse(url, key, t).catch((err: unknown) => log(`SSE of ${uid}: ${String(err)}`)));
    } : undefined,
  }, times);
  const finished = await until(() => run.accepted.every((u) => times.get(u)?.finished !== undefined), 600_000, "", false);
  if (!finished) {
    const phases = new Map<string, number>();
    for (const u of run.accepted) phases.set(times.get(u)?.phase ?? "not finished", (phases.get(times.get(u)?.phase ?? "not finished") ?? 0) + 1);
    throw new Error(`timed out waiting for the jobs to finish: ${JSON.stringify([...phases])} as the watch saw them (restarted ${watch.restarts()} times); logs in ${platform.stack.dir} (PIXELMILL_KEEP_TMP=1 keeps them)`);
  }
  await Promise.race([Promise.all(sse), sleep(30_000)]);
  const lastFinished = Math.max(...run.accepted.map((u) => times.get(u)!.finished!));
  const windowMicros = { from: run.firstSubmitMicros, to: run.firstSubmitMicros + (lastFinished - run.firstSubmit) * 1000 };
  const cpuAfter = cpuSnapshot(platform.roleOf);
  sampler.stop();
  const connections = conns.stop();
  const queue = await queueTimes(platform.stack.redis.url, platform.queuePrefix, MODEL, run.accepted);
  const loadAfter = load();
  const done = await readCounters(sources);
  log(`all ${run.accepted.length} finished; waiting for the mirror to delete them (up to ${deleteWaitMs / 1000} s)`);
  const waitedFrom = performance.now();
  const allGone = await until(() => run.accepted.every((u) => times.get(u)?.deleted !== undefined), deleteWaitMs, "", false);
  const deleted = await readCounters(sources);
  const deletesSeen = run.accepted.filter((u) => times.get(u)?.deleted !== undefined).length;
  watch.abort();

  log("stopping the platform's processes (they write their profiles on exit)");
  await platform.stopProcesses();
  const profiles = profileDir
    ? await Promise.all(["api", "operator", "workers"].map(async (role) => [role, await summarizeProfiles(join(profileDir, role), windowMicros.from, windowMicros.to)] as const))
    : [];

  log("floor: the same jobs through bare BullMQ on the same Redis");
  // About the size of the operator's queue job data (common/queue.ts QueueJobData), the model's spec included.
  const floorData = { namespace: NAMESPACE, name: "job-abcde", model: MODEL, modelSpec: platform.modelSpec, modelVersion: "1", inputUri: "upload:uploads/default/0123456789abcdef.png", params: {}, output: { format: "png" } };
  const floorBefore = await readCounters({ ...sources, clientMetricsUrls: {} });
  const floorAdd = await bareBullmq({ redisUrl: platform.stack.redis.url, prefix: "pixelmill-floor", jobs: JOBS, clients: CLIENTS, workers: WORKERS, concurrency: CONCURRENCY, data: floorData, mode: "add" });
  const floorAfter = await readCounters({ ...sources, clientMetricsUrls: {} });
  const floorBulk = await bareBullmq({ redisUrl: platform.stack.redis.url, prefix: "pixelmill-floor", jobs: JOBS, clients: CLIENTS, workers: WORKERS, concurrency: CONCURRENCY, data: floorData, mode: "addBulk" });

  printReport({
    config: { jobs: JOBS, clients: CLIENTS, workers: WORKERS, concurrency: CONCURRENCY, model: MODEL, observe: OBSERVE, deleteAfter: DELETE_AFTER },
    load: { start: loadAtStart, before: loadBefore, after: loadAfter },
    run, times, sseTimes: OBSERVE === "sse" ? sseTimes : undefined, lastFinished,
    counters: { before, done, deleted }, deletes: { seen: deletesSeen, all: allGone, waitedS: (performance.now() - waitedFrom) / 1000 },
    cpu: { byRole: cpuByRole(cpuBefore, cpuAfter), peaks: sampler.peaks(), seconds: (lastFinished - run.firstSubmit) / 1000 },
    floor: { add: floorAdd, bulk: floorBulk, redis: { before: floorBefore.redis, after: floorAfter.redis } },
    profiles, profileDir, warmGone, connections, queue,
  });
} finally {
  await platform.stopProcesses().catch(() => undefined);
  await platform.stack.stop();
}
process.exit(0);
