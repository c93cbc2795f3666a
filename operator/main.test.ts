import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { kubeConfig, testEnv, uniqueName } from "../test/support/env.js";
import { freePort } from "../devstack/processes.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const namespace = uniqueName("opmain");
const prefix = uniqueName("q");

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

/** operator/main.ts as its own process, through tsx, with short leader election timings. */
function startMain(identity: string, healthPort: number) {
  const child = spawn(process.execPath, ["--import", "tsx", "operator/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, KUBECONFIG: testEnv().kubeconfigPath, REDIS_URL: testEnv().redisUrl, QUEUE_PREFIX: prefix,
      PIXELMILL_NAMESPACE: namespace, PIXELMILL_WATCH_NAMESPACE: namespace, POD_NAME: identity, HEALTH_PORT: String(healthPort),
      LEADER_ELECTION_LEASE_DURATION_S: "3", LEADER_ELECTION_RENEW_DEADLINE_S: "2", LEADER_ELECTION_RETRY_PERIOD_S: "0.5",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stdout += c.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const lines = (): Record<string, unknown>[] => stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const started = () => lines().some((l) => l.msg === "Operator started");
  const probe = (path: string) => fetch(`http://127.0.0.1:${healthPort}${path}`).then((r) => r.status, () => 0);
  return { child, exited, started, probe, output: () => stdout };
}

it("runs the controllers in the leader only, and hands over to the standby on SIGTERM", async () => {
  const a = startMain("op-a", await freePort());
  try {
    await expect.poll(() => a.started(), { timeout: 30_000, interval: 100 }).toBe(true);
    const b = startMain("op-b", await freePort());
    try {
      await expect.poll(() => b.probe("/readyz"), { timeout: 30_000, interval: 100 }).toBe(200);
      expect(await a.probe("/healthz")).toBe(200);
      await new Promise((r) => setTimeout(r, 1500));
      expect(b.started()).toBe(false); // standing by
      const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "pixelmill-operator", namespace });
      expect(lease.spec?.holderIdentity).toBe("op-a");
      a.child.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      // Released: the standby leads within about a retry period, not a lease duration.
      await expect.poll(() => b.started(), { timeout: 10_000, interval: 100 }).toBe(true);
      b.child.kill("SIGTERM");
      expect(await b.exited).toBe(0);
    } finally {
      b.child.kill("SIGKILL");
    }
  } finally {
    a.child.kill("SIGKILL");
  }
}, 60_000);
