import { readFile, readdir } from "node:fs/promises";
import { PAGE_BYTES, parseStat, TICKS_PER_SECOND } from "../proc.js";

/** CPU time and memory of one process, from /proc. */
export interface ProcSample {
  pid: number;
  /** user + system CPU seconds so far. */
  cpuSeconds: number;
  rssBytes: number;
}

/** utime + stime and RSS of `pid` (undefined once it is gone). */
export async function procSample(pid: number): Promise<ProcSample | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!stat) return undefined;
  const fields = parseStat(stat);
  return { pid, cpuSeconds: (fields.utime + fields.stime) / TICKS_PER_SECOND, rssBytes: fields.rssPages * PAGE_BYTES };
}

/** Every process below `root` (children, theirs, ...), with its command line. */
export async function descendants(root: number): Promise<Array<{ pid: number; cmdline: string[] }>> {
  const entries = (await readdir("/proc")).filter((e) => /^\d+$/.test(e)).map(Number);
  const parent = new Map<number, number>();
  await Promise.all(entries.map(async (pid) => {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (stat) parent.set(pid, parseStat(stat).ppid);
  }));
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  const found = [...parent.keys()].filter(below);
  return Promise.all(found.map(async (pid) => ({ pid, cmdline: (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").filter(Boolean) })));
}
