import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { kubeConfig, uniqueName } from "../../test/support/env.js";
import { createLogger } from "../../common/logger.js";
import { startLeaderElection, type LeaderElector, type LeaseApi, type StoppedReason } from "./leader-election.js";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const coordination = kc.makeApiClient(CoordinationV1Api);
const namespace = uniqueName("leader");
const log = createLogger({ level: "silent" });
const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

interface Candidate {
  elector: LeaderElector;
  events: { what: "started" | StoppedReason; at: number }[];
  /** Makes every later lease write fail, as an apiserver out of reach would. */
  breakRenewals(): void;
}

function candidate(lease: string, identity: string): Candidate {
  const events: Candidate["events"] = [];
  let broken = false;
  const leaseApi: LeaseApi = {
    readNamespacedLease: (p) => coordination.readNamespacedLease(p),
    createNamespacedLease: (p) => coordination.createNamespacedLease(p),
    replaceNamespacedLease: (p) => (broken ? Promise.reject(new Error("simulated: apiserver unreachable")) : coordination.replaceNamespacedLease(p)),
  };
  const elector = startLeaderElection({
    kc, namespace, name: lease, identity, log, leaseApi, ...timings,
    onStartedLeading: () => void events.push({ what: "started", at: Date.now() }),
    onStoppedLeading: (reason) => void events.push({ what: reason, at: Date.now() }),
  });
  return { elector, events, breakRenewals: () => (broken = true) };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("leader election on a Lease", () => {
  it("lets exactly one of two candidates lead, and hands over at once when the leader stops", async () => {
    const lease = uniqueName("lease");
    const a = candidate(lease, "a");
    const b = candidate(lease, "b");
    try {
      await until(() => a.elector.isLeader() || b.elector.isLeader(), 5000);
      // Several renew periods: still exactly one.
      for (let i = 0; i < 6; i++) {
        expect([a, b].filter((c) => c.elector.isLeader())).toHaveLength(1);
        await new Promise((r) => setTimeout(r, 250));
      }
      const [leader, standby] = a.elector.isLeader() ? [a, b] : [b, a];
      const held = await coordination.readNamespacedLease({ name: lease, namespace });
      expect(held.spec?.holderIdentity).toBe(leader === a ? "a" : "b");

      const stoppedAt = Date.now();
      await leader.elector.stop();
      expect(leader.events.map((e) => e.what)).toEqual(["started", "stopped"]);
      await until(() => standby.elector.isLeader(), 3000);
      // Released, not expired: within about one retry period, well under the lease duration.
      expect(Date.now() - stoppedAt).toBeLessThan(timings.retryPeriodMs + 1000);
    } finally {
      await Promise.all([a.elector.stop(), b.elector.stop()]);
    }
  });

  it("makes a leader whose renewals fail stop acting before the standby takes over", async () => {
    const lease = uniqueName("lease");
    const a = candidate(lease, "a");
    try {
      await until(() => a.elector.isLeader(), 5000);
      const b = candidate(lease, "b");
      try {
        await new Promise((r) => setTimeout(r, 1000));
        expect(b.elector.isLeader()).toBe(false);
        const brokenAt = Date.now();
        a.breakRenewals();
        await until(() => b.elector.isLeader(), timings.leaseDurationMs + 3000);
        const lost = a.events.find((e) => e.what === "lost");
        const started = b.events.find((e) => e.what === "started");
        expect(lost).toBeDefined();
        expect(started).toBeDefined();
        expect(lost!.at).toBeLessThan(started!.at);
        expect(a.elector.isLeader()).toBe(false);
        // Not before the lease could have expired.
        expect(started!.at - brokenAt).toBeGreaterThanOrEqual(timings.leaseDurationMs - timings.retryPeriodMs);
        expect((await coordination.readNamespacedLease({ name: lease, namespace })).spec?.holderIdentity).toBe("b");
      } finally {
        await b.elector.stop();
      }
    } finally {
      await a.elector.stop();
    }
  });
});
