import { loadavg } from "node:os";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import type { JobTimes } from "./clients.js";
import { etcdSize, type EtcdSize } from "./etcd.js";
import { fmt } from "./stats.js";

/** One moment of a sustained run. */
export interface TimelineRow {
  /** s since the timeline started (the first submit). */
  elapsedS: number;
  sent: number;
  accepted: number;
  succeeded: number;
  failed: number;
  /** ImageJobs in etcd as the apiserver counts them: a list of one item and its remainingItemCount. */
  live: number;
  /** Jobs finished per second over the interval since the row before (as the watch saw them end). */
  jobsPerS: number;
  etcd?: EtcdSize;
  /** Redis' used_memory (bytes). */
  redisUsed: number;
  load1: number;
}

export interface TimelineSources {
  kc: KubeConfig;
  namespace: string;
  redisUrl: string;
  /** etcd's /metrics page (undefined: no etcd of ours to read). */
  etcdMetricsUrl?: string;
  times: ReadonlyMap<string, JobTimes>;
  progress: { sent: number; accepted: number };
}

const HEAD = ["s", "sent", "accepted", "succeeded", "failed", "live ImageJobs", "jobs/s", "etcd DB total / in use (MiB)", "Redis used (MiB)", "load 1 min"];
const mib = (b: number | undefined) => fmt((b ?? NaN) / 2 ** 20);

/**
 * Samples the run every `everyMs` (one timeline row each, printed as it is taken), and the
 * ImageJobs not yet seen deleted by the bench's watch every second, for a finer maximum.
 */
export function startTimeline(src: TimelineSources, everyMs: number, print: (line: string) => void) {
  const rows: TimelineRow[] = [];
  const redis = new Redis(src.redisUrl, { maxRetriesPerRequest: 1 });
  const objects = src.kc.makeApiClient(CustomObjectsApi);
  const t0 = performance.now();
  let maxWatchLive = 0;
  let sampling: Promise<void> = Promise.resolve();
  print(`| ${HEAD.join(" | ")} |\n| ${HEAD.map((_, i) => (i ? "---:" : "---")).join(" | ")} |`);

  const countEnds = () => {
    let succeeded = 0;
    let failed = 0;
    for (const t of src.times.values()) {
      if (t.phase === "Succeeded") succeeded++;
      else if (t.phase !== undefined) failed++;
    }
    return { succeeded, failed };
  };
  // Ends before the timeline (the warm-up's) are left out of its counts.
  const before = countEnds();
  const countFinished = () => {
    const now = countEnds();
    return { succeeded: now.succeeded - before.succeeded, failed: now.failed - before.failed };
  };
  const sample = async (): Promise<void> => {
    const at = performance.now();
    const [live, etcd, info] = await Promise.all([
      objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: src.namespace, plural: IMAGEJOB_PLURAL, limit: 1 })
        .then((l) => { const list = l as { items: unknown[]; metadata?: { remainingItemCount?: number } }; return list.items.length + (list.metadata?.remainingItemCount ?? 0); }),
      src.etcdMetricsUrl ? etcdSize(src.etcdMetricsUrl) : Promise.resolve(undefined),
      redis.info("memory"),
    ]);
    const { succeeded, failed } = countFinished();
    const last = rows.at(-1);
    const elapsedS = (at - t0) / 1000;
    const row: TimelineRow = {
      elapsedS, sent: src.progress.sent, accepted: src.progress.accepted, succeeded, failed, live, etcd,
      jobsPerS: last ? (succeeded + failed - last.succeeded - last.failed) / (elapsedS - last.elapsedS) : NaN,
      redisUsed: Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN), load1: loadavg()[0]!,
    };
    rows.push(row);
    print(`| ${[fmt(row.elapsedS, 0), row.sent, row.accepted, row.succeeded, row.failed, row.live, fmt(row.jobsPerS), `${mib(etcd?.total)} / ${mib(etcd?.inUse)}`, mib(row.redisUsed), fmt(row.load1, 2)].join(" | ")} |`);
  };
  const tick = () => {
    sampling = sampling.then(sample).catch((err: unknown) => print(`| ${fmt((performance.now() - t0) / 1000, 0)} | sample failed: ${err instanceof Error ? err.message : String(err)} |`));
  };
  const watchLive = () => {
    let n = 0;
    for (const t of src.times.values()) if (t.deleted === undefined) n++;
    maxWatchLive = Math.max(maxWatchLive, n);
  };
  tick();
  const timers = [setInterval(tick, everyMs), setInterval(watchLive, 1000)];
  return {
    rows,
    /** The most ImageJobs the bench's watch held as not deleted at one time (sampled every second). */
    maxWatchLive: () => maxWatchLive,
    /** Takes one last row, and stops. */
    async stop(): Promise<TimelineRow[]> {
      timers.forEach(clearInterval);
      tick();
      await sampling;
      redis.disconnect();
      return rows;
    },
  };
}
