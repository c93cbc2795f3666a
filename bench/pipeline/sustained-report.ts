import { availableParallelism } from "node:os";
import type { JobTimes } from "./clients.js";
import type { PacedResult } from "./paced.js";
import type { SustainedOptions } from "./sustained.js";
import { fmt, quantile, table } from "./stats.js";
import type { TimelineRow } from "./timeline.js";

export interface SustainedReport {
  config: Omit<SustainedOptions, "platform" | "log">;
  run: PacedResult;
  times: ReadonlyMap<string, JobTimes>;
  rows: TimelineRow[];
  maxWatchLive: number;
  watchRestarts: number;
  allFinished: boolean;
  allDeleted: boolean;
  load: { before: string; after: string };
  /** CPU seconds by role from the first submit to the last job's end. */
  cpu: { byRole: Array<[string, number]>; seconds: number };
}

/** The deleter's timer tick (250 ms) and one DELETE's round trip, with room: what a job stays past its delay when the deleter keeps up. */
const DELETE_SLACK_S = 2;

export interface Measured {
  /** Jobs/s offered, and accepted per second of submitting. */
  offeredPerS: number;
  acceptedPerS: number;
  /** p99 of submit → end seen, over the run's jobs. */
  t99Ms: number;
  deleteAfterS: number;
  /** The most live ImageJobs seen (either count). */
  maxLive: number;
  /** p50 submit → end of the jobs submitted in the first and in the last window of the run. */
  firstP50Ms: number;
  lastP50Ms: number;
  allFinished: boolean;
}

/**
 * The design's bound on live ImageJobs (ADR 0018): each job is in etcd from its create until its
 * end + the delete delay, so at a steady rate about rate × (time to finish + delay) are live;
 * the p99 time to finish and the deleter's slack make it a bound rather than the mean. It holds
 * only while the platform keeps up: a backlog that grows makes the time to finish grow with the
 * run, so `bounded` also asks that the platform kept up: it accepted 95% of the offered rate (a
 * slow API makes the submits fall behind their schedule), every job ended, and the last jobs
 * ended no slower than twice the first's (+ 1 s).
 */
export function judge(m: Measured): { bound: number; keptUp: boolean; bounded: boolean } {
  const bound = Math.ceil(m.acceptedPerS * (m.t99Ms / 1000 + m.deleteAfterS + DELETE_SLACK_S));
  const keptUp = m.allFinished && m.acceptedPerS >= 0.95 * m.offeredPerS && m.lastP50Ms <= 2 * m.firstP50Ms + 1000;
  return { bound, keptUp, bounded: keptUp && m.maxLive <= bound };
}

const mib = (b: number) => fmt(b / 2 ** 20);
const startMaxEnd = (xs: number[], f: (x: number) => string) => `${f(xs[0] ?? NaN)} / ${f(Math.max(...xs))} / ${f(xs.at(-1) ?? NaN)}`;

/**
 * The summary of a sustained run: how many ImageJobs were live at most against the bound the
 * design expects, accepted rate × (time to finish + delete delay), and etcd's and Redis' size.
 */
export function printSustained(r: SustainedReport): void {
  const c = r.config;
  const n = r.run.accepted.length;
  const jobs = r.run.accepted.map((u) => r.times.get(u)!);
  const submitS = (r.run.lastSubmit - r.run.firstSubmit) / 1000;
  // Over the time the submits took: past `seconds` when every slot was busy (the API answering slowly).
  const acceptedPerS = n / Math.max(submitS, 1 / c.rate);
  const finishMs = jobs.map((t) => (t.finished ?? NaN) - t.submitted);
  const t99 = quantile(finishMs, 0.99);
  const deleteLagMs = jobs.map((t) => (t.deleted ?? NaN) - (t.finished ?? NaN));
  const residenceMs = jobs.map((t) => (t.deleted ?? NaN) - (t.accepted ?? NaN)).filter(Number.isFinite);
  const meanResidenceS = residenceMs.reduce((a, b) => a + b, 0) / residenceMs.length / 1000;
  const lastFinished = Math.max(...jobs.map((t) => t.finished ?? NaN).filter(Number.isFinite));
  const failed = jobs.filter((t) => t.phase !== undefined && t.phase !== "Succeeded").length;

  // Kept up: jobs submitted in the last window took no longer than those of the first (a backlog that grows makes them wait longer and longer).
  const windowMs = Math.min(60, c.seconds / 4) * 1000;
  const inWindow = (from: number) => jobs.filter((t) => t.submitted >= from && t.submitted < from + windowMs).map((t) => (t.finished ?? Infinity) - t.submitted);
  const firstP50 = quantile(inWindow(r.run.firstSubmit), 0.5);
  const lastP50 = quantile(inWindow(r.run.lastSubmit - windowMs), 0.5);
  const lives = r.rows.map((x) => x.live);
  const maxLive = Math.max(...lives);
  const submitting = r.rows.filter((x) => x.elapsedS <= c.seconds);
  const { bound, keptUp, bounded } = judge({ offeredPerS: c.rate, acceptedPerS, t99Ms: t99, deleteAfterS: c.deleteAfterS, maxLive: Math.max(maxLive, r.maxWatchLive), firstP50Ms: firstP50, lastP50Ms: lastP50, allFinished: r.allFinished });
  const etcd = r.rows.filter((x) => x.etcd && Number.isFinite(x.etcd.total));

  console.log(`\n## bench:pipeline --sustained ${c.seconds} — ${c.rate} ${c.model} jobs/s offered, ${c.workers} worker pods × concurrency ${c.concurrency}, delete delay ${c.deleteAfterS} s`);
  console.log(`\n${availableParallelism()} CPUs; load average (1, 5, 15 min) before the run ${r.load.before}, after it ${r.load.after}\n`);
  const refused = r.run.refused.size ? `; refused: ${JSON.stringify([...r.run.refused])} (0: no answer)` : "";
  console.log(table(["", "value", "note"], [
    ["submits sent", r.run.sent, `${fmt(r.run.sent / submitS)}/s over ${fmt(submitS)} s; ${r.run.late} waited for one of ${c.maxInFlight} slots, the latest ${fmt(r.run.maxLagMs, 0)} ms behind schedule`],
    ["accepted (202)", n, `${fmt(acceptedPerS)}/s over the submits' ${fmt(submitS)} s${refused}`],
    ["finished", `${jobs.filter((t) => t.finished !== undefined).length}`, `${failed} did not succeed; the last ${fmt((lastFinished - r.run.lastSubmit) / 1000)} s after the last submit`],
    ["submit → end seen (ms) p50 / p99 / max", `${fmt(quantile(finishMs, 0.5), 0)} / ${fmt(t99, 0)} / ${fmt(Math.max(...finishMs.filter(Number.isFinite)), 0)}`, `p50 of the jobs submitted in the first ${fmt(windowMs / 1000, 0)} s ${fmt(firstP50, 0)}, in the last ${fmt(lastP50, 0)}`],
    ["end seen → DELETED seen, past the delay (ms) p50 / p99 / max", `${fmt(quantile(deleteLagMs, 0.5) - c.deleteAfterS * 1000, 0)} / ${fmt(quantile(deleteLagMs, 0.99) - c.deleteAfterS * 1000, 0)} / ${fmt(Math.max(...deleteLagMs.filter(Number.isFinite)) - c.deleteAfterS * 1000, 0)}`, `${residenceMs.length}/${n} seen deleted${r.allDeleted ? "" : " (the wait ran out)"}; the deleter counts from status.finishedAt, a little before the watch shows the end`],
    ["202 → DELETED, mean (s)", fmt(meanResidenceS), `Little's law: ${fmt(acceptedPerS)}/s × ${fmt(meanResidenceS)} s = ${fmt(acceptedPerS * meanResidenceS, 0)} live on average`],
    ["**live ImageJobs, max** (apiserver count, every row)", `**${maxLive}**`, `while submitting: ${Math.max(...submitting.map((x) => x.live))}; at the end ${lives.at(-1)}; the bench's watch, every second: max ${r.maxWatchLive}${r.watchRestarts ? ` (watch restarted ${r.watchRestarts}×, from its last resourceVersion)` : ""}`],
    ["**bound expected**", `**${bound}**`, `accepted ${fmt(acceptedPerS)}/s × (p99 submit → end ${fmt(t99 / 1000, 2)} s + delete delay ${c.deleteAfterS} s + ${DELETE_SLACK_S} s for the deleter's tick and DELETE)`],
    ["etcd DB total (MiB) start / max / end", etcd.length ? startMaxEnd(etcd.map((x) => x.etcd!.total), mib) : "–", "the file: grows until a defrag, which nothing here runs"],
    ["etcd DB in use (MiB) start / max / end", etcd.length ? startMaxEnd(etcd.map((x) => x.etcd!.inUse), mib) : "–", "falls at each compaction: kube-apiserver compacts every --etcd-compaction-interval (5 min) to the revision of its tick before, so first ~10 min after it starts"],
    ["Redis used_memory (MiB) start / max / end", startMaxEnd(r.rows.map((x) => x.redisUsed), mib), "BullMQ keeps finished jobs a day (operator/job-queue.ts): grows with the jobs, not bounded by this"],
  ]));
  const total = r.cpu.byRole.reduce((s, [, v]) => s + v, 0);
  console.log(`\nCPU from the first submit to the last end (${fmt(r.cpu.seconds)} s; cores in use on average): ${r.cpu.byRole.slice(0, 8).map(([role, s]) => `${role} ${fmt(s / r.cpu.seconds, 2)}`).join(", ")}; all ${fmt(total / r.cpu.seconds, 2)} of ${availableParallelism()}`);
  const slower = lastP50 > 2 * firstP50 + 1000;
  console.log(`\nkept up with the offered rate: **${keptUp ? "PASS" : "FAIL"}** (accepted ${fmt(acceptedPerS)}/s ${acceptedPerS >= 0.95 * c.rate ? "≥" : "<"} 95% of ${c.rate}/s; ${r.allFinished ? "every job ended" : "NOT every job ended"}; p50 submit → end of the jobs submitted in the last ${fmt(windowMs / 1000, 0)} s ${fmt(lastP50, 0)} ms ${slower ? ">" : "≤"} 2 × the first ${fmt(windowMs / 1000, 0)} s' ${fmt(firstP50, 0)} ms + 1 s${slower ? ": a backlog grew" : ""})`);
  console.log(`live ImageJobs stayed bounded: **${bounded ? "PASS" : "FAIL"}** (max ${Math.max(maxLive, r.maxWatchLive)} ${Math.max(maxLive, r.maxWatchLive) <= bound ? "≤" : ">"} bound ${bound}${keptUp ? "" : "; and the platform fell behind, so the bound's time to finish grows with the run"})`);
}
