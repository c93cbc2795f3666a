import { cpus } from "node:os";
import type { Snapshot } from "./snapshot.js";
import { quantile, type Timeline } from "./timeline.js";
import { delta } from "./prometheus.js";

export interface StepResult {
  rate: number;
  created: number;
  seconds: number;
  from: number;
  to: number;
  before: Snapshot;
  after: Snapshot;
  finished: { count: number; latencies: number[] };
}

export interface Report {
  opts: Record<string, unknown>;
  steps: StepResult[];
  timeline: Timeline;
  /** After the last step: jobs Succeeded by the end of the drain wait, ms to the last of them, then ms to replicas 0 (NaN when not seen). */
  drain: { jobs: number; succeeded: number; lastMs: number; zeroMs: number };
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY"]);
const s = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : "—");
const mb = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? "—" : (bytes / 2 ** 20).toFixed(0));
const row = (cells: Array<string | number>) => console.log(`| ${cells.join(" | ")} |`);
const head = (cells: string[]) => {
  row(cells);
  row(cells.map((_, i) => (i === 0 ? "---" : "---:")));
};

/** Markdown tables of the run, one row (or column) per step. */
export function printReport(r: Report): void {
  const { steps } = r;
  const names = steps.map((st) => `${st.rate}/s`);
  console.log(`\n## bench:scale — ${JSON.stringify(r.opts)}; ${cpus().length} cores\n`);
  head(["step", "created/s", "finished/s", "create→Succeeded p50 / p99 (s)", "replicas before → peak", "first job → replicas raised (s)", "→ peak Ready (s)", "load (1 min)"]);
  for (const st of steps) {
    const re = r.timeline.reaction(st.from, st.to);
    const l = st.finished.latencies;
    row([`${st.rate}/s × ${st.seconds.toFixed(0)} s`, (st.created / st.seconds).toFixed(1), (st.finished.count / st.seconds).toFixed(1),
      `${s(quantile(l, 0.5))} / ${s(quantile(l, 0.99))} (${l.length} jobs)`, `${re.before} → ${re.peak}`, s(re.raisedMs), s(re.readyMs), st.after.load1.toFixed(2)]);
  }
  console.log(`\nDrain: ${r.drain.succeeded}/${r.drain.jobs} jobs Succeeded within the wait, the last ${s(r.drain.lastMs)} s after the last step's creates; replicas asked 0 ${s(r.drain.zeroMs)} s after that (window ${String(r.opts.window)} s).`);

  console.log("\n### apiserver requests/s (its apiserver_request_total), by verb");
  const byVerb = steps.map((st) => perSecond(groupBy(delta(st.before.requests, st.after.requests), (k) => k.split(" ")[0]!), st.seconds));
  const verbs = [...new Set(byVerb.flatMap((m) => [...m.keys()]))].sort();
  head(["verb", ...names]);
  for (const v of verbs) row([v, ...byVerb.map((m) => (m.get(v) ?? 0).toFixed(1))]);
  row(["**writes**", ...byVerb.map((m) => [...m].filter(([v]) => WRITES.has(v)).reduce((a, [, n]) => a + n, 0).toFixed(1))]);
  console.log("\n### apiserver writes/s by resource (top 10 over the run), and ImageJob writes per finished job");
  const writes = steps.map((st) => perSecond(new Map([...delta(st.before.requests, st.after.requests)].filter(([k]) => WRITES.has(k.split(" ")[0]!))), st.seconds));
  const top = [...groupBy(new Map(writes.flatMap((m) => [...m])), (k) => k)].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k]) => k);
  head(["verb resource", ...names]);
  for (const k of top) row([k, ...writes.map((m) => (m.get(k) ?? 0).toFixed(1))]);
  row(["**imagejobs writes / finished job**", ...steps.map((st, i) => {
    const n = [...writes[i]!].filter(([k]) => k.split(" ")[1]!.startsWith("imagejobs")).reduce((a, [, v]) => a + v, 0) * st.seconds;
    return st.finished.count ? (n / st.finished.count).toFixed(2) : "—";
  })]);

  console.log("\n### CPU (% of one core) and RSS (MiB at the step's end), by process");
  // Per process, then summed by role: a process that ended within a step counts nothing for it.
  const roleOf = (key: string) => key.slice(0, key.lastIndexOf(" "));
  const cpuOf = (st: StepResult) => groupBy(new Map([...st.after.cpu].map(([k, v]) => [k, v - (st.before.cpu.get(k) ?? 0)])), roleOf);
  const rss = groupBy(steps.at(-1)!.after.rss, roleOf);
  const used = steps.map(cpuOf);
  const roles = [...new Set(used.flatMap((m) => [...m.keys()]))].sort();
  head(["process", ...names.map((n) => `${n} CPU`), "RSS"]);
  for (const role of roles) {
    const cpu = used.map((m, i) => (m.get(role) ?? 0) / steps[i]!.seconds * 100);
    // Helpers that come and go (a shell, a sleep) are left out.
    if (Math.max(...cpu) < 0.5 && (rss.get(role) ?? 0) < 32 * 2 ** 20) continue;
    row([role, ...cpu.map((c) => c.toFixed(0)), mb(rss.get(role))]);
  }
  console.log("(bench: this process, i.e. every simulated worker, the job creator and the watches; postgres: all its processes, shared memory counted in each.)");

  printOperator(steps, names);

  console.log("\n### Redis, Postgres, etcd (at each step's end; rates over the step)");
  head(["", ...names]);
  const per = (f: (a: Snapshot) => number | undefined) => steps.map((st) => {
    const a = f(st.after);
    const b = f(st.before);
    return a === undefined || b === undefined ? "—" : ((a - b) / st.seconds).toFixed(0);
  });
  row(["Redis used_memory (MiB)", ...steps.map((st) => mb(st.after.redis.usedMemory))]);
  row(["Redis clients", ...steps.map((st) => st.after.redis.clients)]);
  row(["Redis commands/s", ...per((x) => x.redis.commands)]);
  row(["Postgres commits/s", ...per((x) => x.postgres?.commits)]);
  row(["Postgres rows written/s", ...per((x) => x.postgres && x.postgres.inserted + x.postgres.updated + x.postgres.deleted)]);
  row(["live ImageJobs", ...steps.map((st) => st.after.liveImageJobs)]);
  row(["etcd DB size / in use (MiB)", ...steps.map((st) => `${mb(st.after.etcd?.dbBytes)} / ${mb(st.after.etcd?.inUseBytes)}`)]);
  // What each job leaves behind: BullMQ keeps finished jobs a day (operator/job-queue.ts), etcd keeps revisions until compaction.
  let jobs = 0;
  const growth = steps.map((st) => {
    jobs += st.created;
    const since = (f: (x: Snapshot) => number | undefined) => ((f(st.after) ?? NaN) - (f(steps[0]!.before) ?? NaN)) / jobs;
    return `${(since((x) => x.redis.usedMemory) / 1024).toFixed(1)} / ${(since((x) => x.etcd?.dbBytes) / 1024).toFixed(1)}`;
  });
  row(["growth since the first step per job created: Redis / etcd DB (KiB)", ...growth]);
}

function groupBy(m: ReadonlyMap<string, number>, key: (k: string) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of m) out.set(key(k), (out.get(key(k)) ?? 0) + v);
  return out;
}

function perSecond(m: ReadonlyMap<string, number>, seconds: number): Map<string, number> {
  return new Map([...m].map(([k, v]) => [k, v / seconds]));
}

/** The operator's view: reconciles/s and their mean time, the apiserver's latency as it sees it, its jobs by phase. */
function printOperator(steps: readonly StepResult[], names: readonly string[]): void {
  if (!steps.every((st) => st.before.operator && st.after.operator)) return;
  console.log("\n### operator (its own /metrics)");
  head(["", ...names]);
  const d = (st: StepResult, f: (o: NonNullable<Snapshot["operator"]>) => Map<string, number>) => delta(f(st.before.operator!), f(st.after.operator!));
  for (const controller of ["imagejob", "workerpool"]) {
    row([`${controller} reconciles/s`, ...steps.map((st) => ((d(st, (o) => o.reconciles).get(controller) ?? 0) / st.seconds).toFixed(1))]);
    row([`${controller} reconcile mean (ms)`, ...steps.map((st) => ms(d(st, (o) => o.reconcileSeconds).get(controller), d(st, (o) => o.reconciles).get(controller)))]);
  }
  const verbs = [...new Set(steps.flatMap((st) => [...d(st, (o) => o.kubeRequests)].filter(([, n]) => n > 0).map(([v]) => v)))].sort();
  for (const verb of verbs) {
    row([`apiserver ${verb}: requests/s, mean ms`, ...steps.map((st) => {
      const n = d(st, (o) => o.kubeRequests).get(verb) ?? 0;
      return `${(n / st.seconds).toFixed(1)}, ${ms(d(st, (o) => o.kubeSeconds).get(verb), n)}`;
    })]);
  }
  for (const phase of ["Pending", "Queued", "Running"]) row([`ImageJobs ${phase} at the end`, ...steps.map((st) => st.after.operator!.phases.get(phase) ?? 0)]);
}

function ms(seconds: number | undefined, count: number | undefined): string {
  return count ? ((seconds ?? 0) / count * 1000).toFixed(0) : "—";
}
