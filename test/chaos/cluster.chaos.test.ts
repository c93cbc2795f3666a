import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { createGpuNodes, isNodeSchedulable } from "../../devstack/gpu-nodes.js";
import { chaosCase, expectAccounted, longAndSmall, nextSeed, noisePng, poll, sleep, SMALL_MODELS, starts, submitSmall } from "./cases.js";
import { Platform, type ProcessName } from "./platform.js";

/**
 * Faults of the cluster under the platform: the operator's leader dies, and a GPU node is lost.
 * Here the platform runs as in a cluster: two operators on a Lease (client-go's timings), and the
 * workers as the pods of an A100 WorkerPool, which the pod runner plays the kubelet for. Same
 * rules as faults.chaos.test.ts: every job accepted is accounted for.
 */
const platform = new Platform({ standbyOperator: true, workerPods: true });
const core = platform.kc.makeApiClient(CoreV1Api);
let big: Buffer;
let medium: Buffer;

beforeAll(async () => {
  [big, medium] = await Promise.all([noisePng(2400, 2400, 10), noisePng(1600, 1600, 11), platform.start()]);
});

afterAll(async () => {
  await platform.stop();
});

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe("cluster faults", () => {
  it("the leader operator SIGKILLed mid-burst: the standby takes the Lease over, and every job is enqueued once and completes", async ({ task }) => {
    await chaosCase(platform, task.meta, "leader SIGKILL mid-burst", async (run) => {
      const before = await platform.lease();
      const leader = (await platform.leader())!;
      const standby: ProcessName = leader === "operator-a" ? "operator-b" : "operator-a";
      expect(leader).toBe(before.holderIdentity);
      await longAndSmall(platform, run, medium, 5);
      // Long jobs in the worker slots, so the burst behind them waits for the operators.
      for (let i = 0; i < 4; i++) await run.submit("resize-x2", medium);
      // A burst from 4 clients at once; the leader dies half-way through it.
      let answered = 0;
      let killedAt = 0;
      const client = async (c: number) => {
        for (let i = 0; i < 8; i++) {
          await run.submit(SMALL_MODELS[(c + i) % 2]!, await noisePng(24, 16, nextSeed()));
          if (++answered === 16) {
            killedAt = Date.now();
            await platform.kill(leader, "SIGKILL");
          }
        }
      };
      await Promise.all([0, 1, 2, 3].map(client));
      const after = await poll("the standby to hold the Lease", async () => {
        const lease = await platform.lease();
        return lease.holderIdentity === standby ? lease : undefined;
      }, 60_000);
      // The standby's own clock wrote acquireTime: the same clock as killedAt, on this machine.
      const takeoverMs = new Date(after.acquireTime!).getTime() - killedAt;
      const report = await run.settle();
      // As a kubelet restarts it (after the jobs settled, so its start costs them no CPU): it stands by.
      await platform.launch(leader);
      await sleep(2 * 2_000); // two retry periods: time to take the Lease, were it to try

      const standbyLines = await platform.logLines(standby);
      const ledAt = standbyLines.find((l) => l.msg === "Operator started")!.time;
      const firstEnqueue = standbyLines.find((l) => l.msg === "Enqueued job")!.time;
      const enqueued = [...(await platform.logLines(leader)), ...standbyLines].filter((l) => l.msg === "Enqueued job");
      const lines = await platform.workerLines();
      const requeued = (id: string) => lines.filter((l) => l.msg === "Stalled job requeued" && l.jobUid === id).length;
      const stalled = run.submitted.filter((s) => requeued(s.id) > 0).length;
      run.report!.row.notes.push(
        `Lease with client-go's timings (lease 15 s, renew deadline 10 s, retry 2 s); ${leader} SIGKILLed after 16 of a 32-job burst, restarted after as the standby`,
        `takeover: ${standby} acquired the Lease ${seconds(takeoverMs)} after the kill, ran its controllers ${seconds(ledAt - killedAt)} after it, enqueued its first job ${seconds(firstEnqueue - killedAt)} after it; each job enqueued once` +
        (stalled ? `; ${stalled} jobs run again by stall detection (a worker starved of CPU past its lock)` : ""),
      );
      for (const s of run.submitted) {
        expect(enqueued.filter((l) => l.jobUid === s.id).length).toBeLessThanOrEqual(1); // a line SIGKILL cut short is not counted
        // One queue job per UID: a job runs again only when a worker lost its lock, never for the failover.
        const runs = starts(lines, s.id).length;
        expect(runs).toBe(1 + requeued(s.id));
        expect(report.byId.get(s.id)?.job?.status?.attempts).toBe(runs);
      }
      // The standby never ran its controllers before; it leads now, also after the old leader came back.
      expect(ledAt).toBeGreaterThan(killedAt);
      expect(takeoverMs).toBeGreaterThan(0);
      expect(takeoverMs).toBeLessThan(15_000 + 2 * 2_000 + 2_000); // a lease duration, two retries, slack
      expect(await platform.lease()).toMatchObject({ holderIdentity: standby, leaseTransitions: (before.leaseTransitions ?? 0) + 1 });
      expect((await platform.logLines(leader)).filter((l) => l.msg === "Leadership acquired" && l.time > killedAt)).toEqual([]);
      expectAccounted(report);
      expect(report.row.succeeded).toBe(report.row.jobs);
    });
  });

  it("a GPU node lost with its running workers: its pods go, and the jobs they held run again on the other node", async ({ task }) => {
    await chaosCase(platform, task.meta, "GPU node lost", async (run) => {
      const slow = await longAndSmall(platform, run, big, 6);
      for (let i = 0; i < 3; i++) await run.submit("resize-x2", medium);
      const nodeOf = new Map((await platform.workerPods()).map((p) => [p.metadata!.name!, p.spec!.nodeName!]));
      const node = nodeOf.get(starts(await platform.workerLines(), slow.id)[0]!.worker)!;
      try {
        const lostAt = Date.now();
        const killed = await platform.loseNode(node);
        const goneAt = Date.now(); // its processes have exited: nothing there logs after this
        // Held: started by a worker of that node, never ended there.
        const there = (await platform.workerLines()).filter((l) => nodeOf.get(l.worker) === node);
        const held = run.submitted.filter((s) => starts(there, s.id).length > 0 && !there.some((l) => l.jobUid === s.id && (l.msg === "Job succeeded" || l.msg === "Job failed")));
        await submitSmall(run, 10);
        // The pod GC deletes the orphaned pods (after its 40 s quarantine); the Deployment replaces them.
        let goneMs: number | undefined;
        let readyMs = 0;
        const replaced = poll("the lost node's pods to be replaced by ready ones elsewhere", async () => {
          const pods = await platform.workerPods();
          if (!pods.some((p) => p.spec?.nodeName === node)) goneMs ??= Date.now() - lostAt;
          const away = pods.length === 2 && pods.every((p) => p.spec?.nodeName && p.spec.nodeName !== node);
          if (!away || (await platform.readyWorkerPods()) !== 2) return undefined;
          readyMs = Date.now() - lostAt;
          return pods;
        }, 150_000);
        const [report, pods] = await Promise.all([run.settle(), replaced]);

        const lines = await platform.workerLines();
        const reruns = held.map((h) => starts(lines, h.id).at(-1)!);
        for (const p of pods) nodeOf.set(p.metadata!.name!, p.spec!.nodeName!);
        run.report!.row.notes.push(
          `${node} lost (Node deleted) with ${killed.length} worker pods SIGKILLed (${killed.map((k) => k.pod.split("/")[1]).join(", ")}) holding ${held.length} jobs; ` +
          `they ran again on ${[...new Set(reruns.map((r) => `${r.worker} (${nodeOf.get(r.worker)})`))].join(", ")}, ` +
          `the last starting ${seconds(Math.max(...reruns.map((r) => r.time)) - lostAt)} after the loss`,
          `the pod GC deleted its pods ${seconds(goneMs!)} after the loss (kube-controller-manager's 40 s quarantine of a missing node); 2 worker pods ready again on ` +
          `${[...new Set(pods.map((p) => p.spec!.nodeName))].join(", ")} ${seconds(readyMs)} after it; ${node} re-created after`,
        );
        expect(killed.length).toBeGreaterThan(0);
        for (const k of killed) expect(k.exitCode).toBeNull(); // SIGKILLed, not drained
        expect(held.map((h) => h.id)).toContain(slow.id);
        for (const h of held) {
          expect(report.byId.get(h.id)?.verdict).toBe("succeeded");
          expect(report.byId.get(h.id)?.job?.status?.attempts).toBeGreaterThanOrEqual(2);
        }
        for (const r of reruns) expect(nodeOf.get(r.worker)).not.toBe(node);
        // Nothing ran on the lost node again: no restart of its workers.
        expect(lines.filter((l) => nodeOf.get(l.worker) === node && l.time > goneAt)).toEqual([]);
        expectAccounted(report);
        expect(report.row.succeeded).toBe(report.row.jobs);
      } finally {
        // Later cases and files see the four GPU nodes again.
        await createGpuNodes(core);
        await poll(`${node} to be Ready again`, async () => {
          return isNodeSchedulable(await core.readNode({ name: node })) ? true : undefined;
        }, 60_000);
      }
    });
  }, 300_000);
});
