import { inject } from "vitest";
import type { Part } from "./fault-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The chaos global setup's fault endpoint (fault-server.ts). */
    pixelmillFaults: string;
  }
}

async function post(part: Part, action: "stop" | "start"): Promise<void> {
  const res = await fetch(`${inject("pixelmillFaults")}/${part}/${action}`, { method: "POST" });
  if (res.status !== 204) throw new Error(`${action} ${part}: HTTP ${res.status} ${await res.text()}`);
}

/**
 * Takes a service of the stack down (Redis: SIGTERM, so its append-only file is complete;
 * Postgres: fast shutdown; kube-apiserver: SIGTERM, etcd stays; S3: frozen with SIGSTOP), runs
 * `whileDown`, and brings it back on the same port with the same data.
 */
export async function outage<T>(part: Part, whileDown: () => Promise<T>): Promise<T> {
  await post(part, "stop");
  try {
    return await whileDown();
  } finally {
    await post(part, "start");
  }
}
