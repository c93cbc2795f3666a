import { readFileSync } from "node:fs";

/** The local ends (address:port, as /proc writes them) of this machine's TCP sockets connected to `port`, with their state. */
function clientEnds(ports: ReadonlySet<number>): Array<{ port: number; local: string; established: boolean }> {
  const out: Array<{ port: number; local: string; established: boolean }> = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const port = parseInt(f[2]!.split(":")[1]!, 16);
      if (ports.has(port)) out.push({ port, local: f[1]!, established: f[3] === "01" });
    }
  }
  return out;
}

/**
 * Counts the TCP connections opened to each server port while it runs, by sampling /proc/net/tcp
 * every `intervalMs`: a client that keeps its connections alive opens a few; one that connects
 * per request opens about one per request (each lives at least its idle keep-alive, seconds, so
 * sampling misses few).
 */
export function connectionSampler(ports: Record<string, number>, intervalMs = 200) {
  const wanted = new Set(Object.values(ports));
  const key = (e: { port: number; local: string }) => `${e.port} ${e.local}`;
  const initial = new Set(clientEnds(wanted).map(key));
  const seen = new Set<string>();
  const sample = () => clientEnds(wanted).forEach((e) => seen.add(key(e)));
  const timer = setInterval(sample, intervalMs);
  return {
    /** Per server: connections opened since the start, and established now. */
    stop(): Record<string, { opened: number; open: number }> {
      clearInterval(timer);
      sample();
      const now = clientEnds(wanted);
      return Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, {
        opened: [...seen].filter((k) => k.startsWith(`${port} `) && !initial.has(k)).length,
        open: now.filter((e) => e.port === port && e.established).length,
      }]));
    },
  };
}
