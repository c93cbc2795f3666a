import { availableParallelism } from "node:os";
import { isLease, isWrite, requestRows, type RequestRow } from "./apiserver-metrics.js";
import type { JobTimes, SubmitResult } from "./clients.js";
import type { FloorResult } from "./floor.js";
import { pgDiff } from "./pg-stats.js";
import type { ProfileSummary } from "./profile.js";
import type { QueueTimes } from "./queue-times.js";
import { diffSamples, sumBy, type Sample } from "./prom.js";
import { callsDiff } from "./redis-stats.js";
import type { Counters } from "./snapshot.js";
import { fmt, quantile, table } from "./stats.js";

export interface Report {
  config: { jobs: number; clients: number; workers: number; concurrency: number; model: string; observe: string; deleteAfter?: number };
  load: { start: string; before: string; after: string };
  run: SubmitResult;
  times: Map<string, JobTimes>;
  sseTimes?: Map<string, JobTimes>;
  lastFinished: number;
  /** Before the first submit, once the last job ended, once the mirror deleted them (or the wait ran out). */
  counters: { before: Counters; done: Counters; deleted: Counters };
  deletes: { seen: number; all: boolean; waitedS: number };
  cpu: { byRole: Array<[string, number]>; peaks: Map<string, number>; seconds: number };
  floor: { add: FloorResult; bulk: FloorResult; redis: { before: Map<string, number>; after: Map<string, number> } };
  profiles: ReadonlyArray<readonly [string, ProfileSummary]>;
  profileDir?: string;
  warmGone: boolean;
  /** TCP connections opened to each server during the run, and open at its end. */
  connections: Record<string, { opened: number; open: number }>;
  /** BullMQ's own times of each job (epoch ms). */
  queue: Map<string, QueueTimes>;
}

/** Prints the run's numbers as Markdown: throughput and the floor, latencies, writes per job, CPU, profiles. */
export function printReport(r: Report): void {
  const n = r.run.accepted.length;
  const per = (x: number) => fmt(x / n, 2);
  const e2eS = (r.lastFinished - r.run.firstSubmit) / 1000;
  const e2e = n / e2eS;
  const failed = r.run.accepted.filter((u) => r.times.get(u)?.phase !== "Succeeded").length;
  const c = r.config;
  console.log(`\n## bench:pipeline — ${n} ${c.model} jobs (4×4 PNG, multipart), ${c.clients} clients, ${c.workers} worker pods × concurrency ${c.concurrency}`);
  console.log(`\n${availableParallelism()} CPUs; load average (1, 5, 15 min) at start ${r.load.start}, before the run ${r.load.before}, after it ${r.load.after}\n`);
  console.log(table(["throughput", "jobs/s", "note"], [
    ["accepted (202s)", fmt(n / ((r.run.lastAccepted - r.run.firstSubmit) / 1000)), `${n} accepted in ${fmt((r.run.lastAccepted - r.run.firstSubmit) / 1000, 2)} s${r.run.refused.size ? `; refused: ${JSON.stringify([...r.run.refused])}` : ""}`],
    ["**end to end** (first submit → last Succeeded seen)", `**${fmt(e2e)}**`, `${fmt(e2eS, 2)} s${failed ? `; ${failed} did not succeed` : ""}`],
    [`floor: bare BullMQ, ${c.clients} producers add(), ${c.workers} × ${c.concurrency} no-op workers`, fmt(r.floor.add.donePerS), `adds at ${fmt(r.floor.add.addedPerS)}/s; same job options and data size as the operator's`],
    ["floor: bare BullMQ, addBulk(100)", fmt(r.floor.bulk.donePerS), `adds at ${fmt(r.floor.bulk.addedPerS)}/s`],
    ["**platform / floor**", `**${fmt(e2e / r.floor.add.donePerS, 3)}**`, `the floor is ${fmt(r.floor.add.donePerS / e2e)}× faster`],
  ]));

  const lat = (times: Map<string, JobTimes>, source: string): Array<Array<string | number>> => {
    const ts = r.run.accepted.map((u) => times.get(u)).filter((t): t is JobTimes => t !== undefined);
    const row = (label: string, f: (t: JobTimes) => number | undefined) => {
      const xs = ts.map((t) => (f(t) ?? NaN) - t.submitted);
      return [`${label} (${source})`, fmt(quantile(xs, 0.5)), fmt(quantile(xs, 0.99)), fmt(Math.max(...xs.filter(Number.isFinite)))];
    };
    return [row("submit → started", (t) => t.running), row("submit → succeeded", (t) => t.finished)];
  };
  const accepted = r.run.accepted.map((u) => r.times.get(u)!.accepted! - r.times.get(u)!.submitted);
  console.log(`\n${table(["latency (ms)", "p50", "p99", "max"], [
    ["submit → 202", fmt(quantile(accepted, 0.5)), fmt(quantile(accepted, 0.99)), fmt(Math.max(...accepted))],
    ...lat(r.times, "watch"), ...(r.sseTimes ? lat(r.sseTimes, "SSE") : []),
  ])}`);
  const sawRunning = r.run.accepted.filter((u) => r.times.get(u)?.sawRunning).length;
  console.log(`\nStarted (watch): the first event showing Running or an end. Running itself was seen for ${sawRunning}/${n} jobs (a job that ends before the operator writes Running skips it).`);
  printStages(r);
  console.log(`\nTCP connections opened during the run (sampled every 200 ms from /proc/net/tcp), per job: ${Object.entries(r.connections).map(([k, v]) => `${k} ${per(v.opened)} (${v.open} open at the end)`).join("; ")}`);

  printApiserver(r, n, per);
  printPostgresAndRedis(r, n, per);
  printCpu(r);
  printProfiles(r);
}

/** Where one job's time goes, per stage, from this client's clock and BullMQ's own timestamps (same machine, same wall clock). */
function printStages(r: Report): void {
  const wall = (t: number) => performance.timeOrigin + t;
  const rows: Array<[string, number[]]> = [
    ["submit → 202 (upload to S3, ImageJob created, row written)", []],
    ["202 → enqueued (operator: watch event, reconcile, BullMQ add)", []],
    ["enqueued → taken by a worker (queue wait)", []],
    ["taken → done in the worker (S3 get, model, S3 put)", []],
    ["done in the worker → Succeeded seen (notification, reconcile, status PUT, watch)", []],
  ];
  for (const uid of r.run.accepted) {
    const t = r.times.get(uid);
    const q = r.queue.get(uid);
    if (!t?.accepted || !t.finished || !q) continue;
    [t.accepted - t.submitted, q.enqueued - wall(t.accepted), q.taken - q.enqueued, q.done - q.taken, wall(t.finished) - q.done].forEach((ms, i) => rows[i]![1].push(ms));
  }
  console.log(`\n${table(["stage (ms), from BullMQ's timestamp/processedOn/finishedOn", "p50", "p99", "mean"], rows.map(([label, xs]) => [label, fmt(quantile(xs, 0.5)), fmt(quantile(xs, 0.99)), fmt(xs.reduce((a, b) => a + b, 0) / xs.length)]))}`);
}

function printApiserver(r: Report, n: number, per: (x: number) => string): void {
  const { before, done, deleted } = r.counters;
  const run = requestRows(before.apiserver, done.apiserver);
  const all = requestRows(before.apiserver, deleted.apiserver);
  const count = (rows: RequestRow[], pick: (row: RequestRow) => boolean) => rows.filter(pick).reduce((s, row) => s + row.count, 0);
  const imageJob = (row: RequestRow) => row.resource.startsWith("imagejobs") && isWrite(row);
  const ok = (row: RequestRow) => row.code === "2xx";
  const platformWrite = (row: RequestRow) => isWrite(row) && !isLease(row);
  console.log(`\n### apiserver requests (its own apiserver_request_total), per job`);
  console.log(`\nRun: first submit → last end. Until deleted: ${r.deletes.all ? "also" : `${r.deletes.seen}/${n} deleted when the wait ended (${fmt(r.deletes.waitedS)} s);`} the mirror's deletes, ${r.config.deleteAfter ?? "the default"} s after each end.${r.warmGone ? "" : " Warm-up jobs were still there: their deletes are in these counts."}\n`);
  console.log(table(["", "run", "until deleted"], [
    ["**ImageJob writes per job** (2xx; imagejobs + imagejobs/status)", per(count(run, (x) => imageJob(x) && ok(x))), `**${per(count(all, (x) => imageJob(x) && ok(x)))}**`],
    ["ImageJob writes refused per job (409 conflict, 404...)", per(count(run, (x) => imageJob(x) && !ok(x))), per(count(all, (x) => imageJob(x) && !ok(x)))],
    ["all writes per job but leases (events, pods, WorkerPool status...)", per(count(run, platformWrite)), per(count(all, platformWrite))],
    ["lease writes (heartbeats; not per job)", String(count(run, (x) => isLease(x) && isWrite(x))), String(count(all, (x) => isLease(x) && isWrite(x)))],
    ["reads per job (GET, LIST; WATCH starts)", per(count(run, (x) => !isWrite(x))), per(count(all, (x) => !isWrite(x)))],
  ]));
  console.log(`\n${table(["resource", "verb", "code", "until deleted, per job", "count"], all.filter((x) => !isLease(x)).slice(0, 16).map((x) => [x.resource, x.verb, x.code, per(x.count), x.count]))}`);
  const clients = diffSamples(before.kubeClients, deleted.kubeClients).filter((s) => s.name === "pixelmill_kube_api_requests_total");
  const byClient = sumBy(clients, (s) => `${s.labels.component} ${s.labels.verb} ${s.labels.code}`);
  console.log(`\nWho sent them (the platform's own pixelmill_kube_api_requests_total, until deleted), per job: ${byClient.map(([k, v]) => `${k} ${per(v)}`).join("; ")}`);
  printClientLatency(diffSamples(before.kubeClients, done.kubeClients));
}

/** Mean time of each kind of request as the platform's processes time them (their histograms' sum / count over the run). */
function printClientLatency(d: Sample[]): void {
  const mean = (metric: string, key: (s: Sample) => string | undefined) => {
    const sums = new Map(sumBy(d.filter((s) => s.name === `${metric}_sum`), key));
    return sumBy(d.filter((s) => s.name === `${metric}_count`), key).map(([k, count]) => [k, String(count), fmt((1000 * (sums.get(k) ?? NaN)) / count)]);
  };
  console.log(`\n${table(["request, as its sender timed it (run)", "count", "mean ms"], [
    ...mean("pixelmill_kube_api_request_duration_seconds", (s) => (s.labels.verb === "watch" ? undefined : `${s.labels.source} → apiserver ${s.labels.verb}`)),
    ...mean("pixelmill_http_request_duration_seconds", (s) => `api serving ${s.labels.method} ${s.labels.route}`),
  ])}`);
}

function printPostgresAndRedis(r: Report, n: number, per: (x: number) => string): void {
  const run = pgDiff(r.counters.before.postgres, r.counters.done.postgres);
  const all = pgDiff(r.counters.before.postgres, r.counters.deleted.postgres);
  console.log(`\n### Postgres (pg_stat_database, pg_stat_user_tables of the platform's database), per job\n`);
  console.log(table(["", "run", "until deleted"], [
    ["transactions committed (each autocommit statement is one)", per(run.xactCommit - 1), per(all.xactCommit - 2)],
    ["rolled back", per(run.xactRollback), per(all.xactRollback)],
    ["rows inserted / updated / deleted", `${per(run.inserted)} / ${per(run.updated)} / ${per(run.deleted)}`, `${per(all.inserted)} / ${per(all.updated)} / ${per(all.deleted)}`],
    ...[...all.tables].map(([name, t]) => [`  table ${name}: ins / upd / del`, "", `${per(t.ins)} / ${per(t.upd)} / ${per(t.del)}`]),
  ]));
  const redis = callsDiff(r.counters.before.redis, r.counters.done.redis);
  const floor = callsDiff(r.floor.redis.before, r.floor.redis.after);
  const total = (calls: Array<[string, number]>) => calls.reduce((s, [, v]) => s + v, 0);
  console.log(`\n### Redis (INFO commandstats), per job\n`);
  console.log(`platform (run): ${per(total(redis))} commands per job: ${redis.slice(0, 12).map(([k, v]) => `${k} ${per(v)}`).join(", ")}`);
  console.log(`floor (bare BullMQ add): ${fmt(total(floor) / r.config.jobs, 2)} per job: ${floor.slice(0, 8).map(([k, v]) => `${k} ${fmt(v / r.config.jobs, 2)}`).join(", ")}`);
}

function printCpu(r: Report): void {
  const total = r.cpu.byRole.reduce((s, [, v]) => s + v, 0);
  console.log(`\n### CPU during the run (/proc utime + stime of every process under the bench; ${fmt(r.cpu.seconds, 2)} s, ${availableParallelism()} CPUs = ${fmt(r.cpu.seconds * availableParallelism())} CPU-s available)\n`);
  const n = r.run.accepted.length;
  console.log(table(["process", "CPU-s", "CPU-ms per job", "mean cores", "peak cores (1 s)"], [
    ...r.cpu.byRole.slice(0, 14).map(([role, s]) => [role, fmt(s, 2), fmt((1000 * s) / n), fmt(s / r.cpu.seconds, 2), fmt(r.cpu.peaks.get(role) ?? NaN, 2)]),
    ["all", fmt(total, 2), fmt((1000 * total) / n), fmt(total / r.cpu.seconds, 2), ""],
  ]));
  console.log(`\n100 jobs/s on ${availableParallelism()} cores leaves ${fmt((1000 * availableParallelism()) / 100)} CPU-ms per job for everything above.`);
}

function printProfiles(r: Report): void {
  if (!r.profiles.length) return;
  console.log(`\n### CPU profiles (--cpu-prof; files in ${r.profileDir})`);
  console.log("\nSelf time of the samples inside the run's window, idle left out. A sample's time is wall-clock time: on a machine with fewer cores than busy processes it includes waiting for a core, so compare shares, and the CPU-s from /proc above.");
  for (const [role, p] of r.profiles) {
    const pct = (ms: number) => `${fmt((100 * ms) / p.totalMs)}%`;
    console.log(`\n**${role}**: ${fmt(p.totalMs / 1000, 2)} s busy in ${p.files} profile(s) (threads). By area: ${p.byArea.slice(0, 10).map(([k, ms]) => `${k} ${pct(ms)}`).join(", ")}\n`);
    console.log(table(["function (self time)", "ms", "share"], p.byFunction.slice(0, 15).map(([k, ms]) => [k.replace(/\|/g, "\\|"), fmt(ms, 0), pct(ms)])));
  }
}
