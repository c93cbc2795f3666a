import { loadavg } from "node:os";
import { submitAll, watchJobs, type JobTimes } from "./clients.js";
import { cpuByRole, cpuSnapshot } from "./cpu.js";
import { findEtcdMetrics } from "./etcd.js";
import { tinyImages } from "./images.js";
import { submitPaced } from "./paced.js";
import { NAMESPACE, type Platform } from "./platform.js";
import { printSustained } from "./sustained-report.js";
import { startTimeline } from "./timeline.js";
import { until } from "./wait.js";

export interface SustainedOptions {
  platform: Platform;
  model: string;
  workers: number;
  concurrency: number;
  /** Offered jobs/s, for `seconds`. */
  rate: number;
  seconds: number;
  /** Submits in flight at most. */
  maxInFlight: number;
  /** Between timeline rows. */
  sampleEveryS: number;
  /** MIRROR_DELETE_FINISHED_AFTER_SECONDS the API runs with. */
  deleteAfterS: number;
  log: (m: string) => void;
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(", ");

/**
 * `bench:pipeline --sustained S`: a warm-up, then `rate` jobs/s for S seconds on a fixed schedule,
 * then the tail: until every job has ended and the mirror has deleted it (up to the delete delay
 * + 60 s). A timeline row every `sampleEveryS` s shows live ImageJobs and etcd's size; the summary
 * judges the live ImageJobs against the bound the design expects (ADR 0018).
 */
export async function runSustained(o: SustainedOptions): Promise<void> {
  const { kc, key, apiUrl } = o.platform;
  const times = new Map<string, JobTimes>();
  const watch = await watchJobs(kc, NAMESPACE, times, o.log);
  const deleteWaitMs = (o.deleteAfterS + 60) * 1000;
  try {
    const warmup = 2 * o.workers * o.concurrency;
    const warm = await submitAll({ url: apiUrl, key, model: o.model, clients: warmup, images: await tinyImages(warmup) }, times);
    if (warm.accepted.length !== warmup) throw new Error(`warm-up: ${warm.accepted.length}/${warmup} accepted, refused ${JSON.stringify([...warm.refused])}`);
    await until(() => warm.accepted.every((u) => times.get(u)?.finished !== undefined), 120_000, "the warm-up jobs to finish");
    o.log(`warm-up: ${warmup} jobs done; waiting for the mirror to delete them`);
    await until(() => warm.accepted.every((u) => times.get(u)?.deleted !== undefined), deleteWaitMs, "", false);

    const etcdMetricsUrl = await findEtcdMetrics();
    if (!etcdMetricsUrl) o.log("no etcd of this bench's stack found: etcd's size is left out");
    const loadBefore = load();
    const cpuBefore = cpuSnapshot(o.platform.roleOf);
    const progress = { sent: 0, accepted: 0 };
    o.log(`submitting ${o.rate} jobs/s for ${o.seconds} s (at most ${o.maxInFlight} in flight; load average ${loadBefore})`);
    console.log(`\n### Timeline (a row every ${o.sampleEveryS} s from the first submit; submits stop at ${o.seconds} s)\n`);
    const timeline = startTimeline({ kc, namespace: NAMESPACE, redisUrl: o.platform.stack.redis.url, etcdMetricsUrl, times, progress }, o.sampleEveryS * 1000, (l) => console.log(l));
    const run = await submitPaced({ url: apiUrl, key, model: o.model, rate: o.rate, seconds: o.seconds, maxInFlight: o.maxInFlight }, times, progress);
    o.log(`submits done (${run.accepted.length} accepted); waiting for the tail to finish`);
    const finished = await until(() => run.accepted.every((u) => times.get(u)?.finished !== undefined), 600_000, "", false);
    const cpuAfter = cpuSnapshot(o.platform.roleOf);
    const cpuSeconds = (performance.now() - run.firstSubmit) / 1000;
    const loadAfter = load();
    o.log(`${finished ? "all" : "not all"} finished; waiting for the mirror to delete them (up to ${deleteWaitMs / 1000} s)`);
    const allDeleted = await until(() => run.accepted.every((u) => times.get(u)?.deleted !== undefined), deleteWaitMs, "", false);
    const rows = await timeline.stop();
    printSustained({
      config: o, run, times, rows, maxWatchLive: timeline.maxWatchLive(), watchRestarts: watch.restarts(),
      allFinished: finished, allDeleted,
      load: { before: loadBefore, after: loadAfter },
      cpu: { byRole: cpuByRole(cpuBefore, cpuAfter), seconds: cpuSeconds },
    });
  } finally {
    watch.abort();
  }
}
