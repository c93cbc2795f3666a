import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LocalAddress {
  ip: string;
  remove(): Promise<void>;
}

/**
 * A private IPv4 address of this machine that is not loopback: a /32 on `lo` in 10.203.0.0/16.
 * The apiserver refuses loopback addresses in EndpointSlices, so an extension apiserver on this
 * machine (KEDA's metrics adapter) needs one to sit behind a Service. Needs root (CAP_NET_ADMIN);
 * removed by `remove()`, or by a watcher once this process is gone, however it ended.
 */
export async function addLocalAddress(): Promise<LocalAddress> {
  const taken = (await run("ip", ["-o", "-4", "addr", "show"]).catch((err: unknown) => {
    throw new Error(`cannot list this machine's addresses with iproute2's ip (${String(err)})`, { cause: err });
  })).stdout;
  const base = process.pid % 250;
  let ip = "";
  for (let i = 0; i < 250 && !ip; i++) {
    const candidate = `10.203.${(base + i) % 250}.1`;
    if (!taken.includes(` ${candidate}/`)) ip = candidate;
  }
  if (!ip) throw new Error("no free address in 10.203.0.0/16 on this machine");
  try {
    await run("ip", ["addr", "add", `${ip}/32`, "dev", "lo"]);
  } catch (err) {
    throw new Error(`cannot add ${ip}/32 to lo (KEDA's metrics adapter needs a non-loopback address; this needs root): ${String(err)}`, { cause: err });
  }
  const del = `ip addr del ${ip}/32 dev lo`;
  const watcher = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${del} 2>/dev/null; exit 0`], { detached: true, stdio: "ignore" });
  watcher.unref();
  return {
    ip,
    remove: async () => {
      watcher.kill();
      await run("ip", ["addr", "del", `${ip}/32`, "dev", "lo"]).catch(() => {});
    },
  };
}
