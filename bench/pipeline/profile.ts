import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { projectRoot } from "../../devstack/binaries.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; children?: number[] }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time (ms) by function and by code area, of the samples inside a window. */
export interface ProfileSummary {
  files: number;
  totalMs: number;
  byFunction: Array<[string, number]>;
  byArea: Array<[string, number]>;
}

/** Now on the clock V8's profiles use (CLOCK_MONOTONIC, µs): the same on every process of this machine. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Sums the `.cpuprofile` files in `dir` (Node's --cpu-prof: one per process and per worker
 * thread), counting only samples between `from` and `to` (monotonicMicros), so start-up and
 * shutdown are left out. Idle time ("(idle)") is dropped: what is left is CPU the process used.
 */
export async function summarizeProfiles(dir: string, from: number, to: number): Promise<ProfileSummary> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".cpuprofile"));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let totalMs = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const parents = new Map(profile.nodes.flatMap((n) => (n.children ?? []).map((c): [number, number] => [c, n.id])));
    // Native code and Node's own (a socket write, a hash, a stream) is named with the nearest caller
    // from a package or this project, and counted in that caller's area.
    const caller = (id: number): CallFrame | undefined => {
      for (let p = parents.get(id); p !== undefined; p = parents.get(p)) {
        const f = frames.get(p);
        if (f?.url && !f.url.startsWith("node:")) return f;
      }
      return undefined;
    };
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      const frame = frames.get(id);
      if (at < from || at > to || !frame || frame.functionName === "(idle)") return;
      const ms = delta / 1000;
      totalMs += ms;
      const native = (frame.url.startsWith("node:") || (!frame.url && !frame.functionName.startsWith("("))) ? caller(id) : undefined;
      const name = native
        ? `${frame.functionName || "(anonymous)"} ${frame.url ? "(node) " : ""}← ${native.functionName || "(anonymous)"} ${where(native.url, native.lineNumber)}`
        : `${frame.functionName || "(anonymous)"} ${where(frame.url, frame.lineNumber)}`.trim();
      const counted = native ?? frame;
      const zone = area(counted.url, counted.functionName);
      byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
      byArea.set(zone, (byArea.get(zone) ?? 0) + ms);
    });
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { files: files.length, totalMs, byFunction: sorted(byFunction), byArea: sorted(byArea) };
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  return path.startsWith("/") ? relative(projectRoot, path) : path;
}

function where(url: string, line: number): string {
  return url ? `${shortUrl(url)}:${line + 1}` : "";
}

/** A package under node_modules, a folder of this project, Node's own code, or V8's pseudo-frames ((garbage collector), (program)). */
function area(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node: internals";
  const path = shortUrl(url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  return path.split("/")[0] ?? path;
}
