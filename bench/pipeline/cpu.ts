import { readdirSync, readFileSync } from "node:fs";
import { parseStat, TICKS_PER_SECOND } from "../proc.js";

/** CPU seconds used so far by each process under this one, with the role `roleOf` gives it. */
export type CpuSnapshot = Map<number, { role: string; seconds: number }>;

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  seconds: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const { comm, ppid, utime, stime } = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return { pid: Number(pid), comm, ppid, seconds: (utime + stime) / TICKS_PER_SECOND };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * Every process descended from this one (the stack's servers, the platform's processes, Postgres'
 * backends), with its CPU seconds. `roleOf` names a process by pid (the API, a worker...); the
 * others are named by their command (etcd, kube-apiserver, postgres, redis-server...).
 */
export function cpuSnapshot(roleOf: (pid: number) => string | undefined): CpuSnapshot {
  const all = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(readStat).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of all) (children.get(s.ppid) ?? children.set(s.ppid, []).get(s.ppid)!).push(s);
  const out: CpuSnapshot = new Map();
  const self = all.find((s) => s.pid === process.pid);
  if (self) out.set(self.pid, { role: "bench (clients, watch, pod runner)", seconds: self.seconds });
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.set(c.pid, { role: roleOf(c.pid) ?? c.comm, seconds: c.seconds });
      walk(c.pid);
    }
  };
  walk(process.pid);
  return out;
}

/** CPU seconds per role between two snapshots; a process that started in between counts from zero. */
export function cpuByRole(before: CpuSnapshot, after: CpuSnapshot): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const [pid, { role, seconds }] of after) sums.set(role, (sums.get(role) ?? 0) + seconds - (before.get(pid)?.seconds ?? 0));
  return [...sums].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]);
}

/** Samples every `intervalMs` until stopped; `peaks()` gives each role's highest one-interval CPU use (1.0 = one core). */
export function cpuSampler(roleOf: (pid: number) => string | undefined, intervalMs = 1000) {
  const peaks = new Map<string, number>();
  let last = { at: performance.now(), snap: cpuSnapshot(roleOf) };
  const timer = setInterval(() => {
    const now = { at: performance.now(), snap: cpuSnapshot(roleOf) };
    const s = (now.at - last.at) / 1000;
    for (const [role, used] of cpuByRole(last.snap, now.snap)) peaks.set(role, Math.max(peaks.get(role) ?? 0, used / s));
    last = now;
  }, intervalMs);
  return { stop: () => clearInterval(timer), peaks: () => peaks };
}
