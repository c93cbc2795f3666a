import { describe, expect, it } from "vitest";
import { planPools, TargetWindow, type PoolInput } from "./autoscaler.js";

const NOW = 1_000_000;
const pool = (over: Partial<PoolInput> & { key: string }): PoolInput => ({
  models: ["m"], priority: 0, minReplicas: 0, maxReplicas: 4, targetJobsPerReplica: 1, scaleDownWindowMs: 120_000,
  replicas: 0, inFlight: 0, busyWorkers: 0, ...over,
});
const plan = (pools: PoolInput[], waiting: Record<string, number>) => planPools(pools, new Map(Object.entries(waiting)), NOW);

describe("planPools", () => {
  it("wakes a pool at zero with one job waiting, in one step to what the demand needs", () => {
    expect(plan([pool({ key: "ns/a" })], { m: 1 }).get("ns/a")).toMatchObject({ replicas: 1, wanted: 1 });
    expect(plan([pool({ key: "ns/a", targetJobsPerReplica: 2, maxReplicas: 50 })], { m: 37 }).get("ns/a")).toMatchObject({ replicas: 19 });
  });

  it("caps at maxReplicas and keeps minReplicas when idle", () => {
    const p = plan([pool({ key: "ns/a", maxReplicas: 3 })], { m: 200 }).get("ns/a")!;
    expect(p).toMatchObject({ replicas: 3, wanted: 200 });
    expect(p.reason).toMatch(/capped at maxReplicas 3/);
    expect(plan([pool({ key: "ns/a", minReplicas: 2 })], {}).get("ns/a")).toMatchObject({ replicas: 2 });
  });

  it("counts in-flight work, so a pool with running jobs and an empty queue stays up", () => {
    const p = plan([pool({ key: "ns/a", replicas: 2, inFlight: 2, busyWorkers: 2, lastActivity: NOW - 999_999 })], { m: 0 }).get("ns/a")!;
    expect(p.replicas).toBe(2);
  });

  it("fills the preferred pool up to its max, then spills to the next", () => {
    const plans = plan([
      pool({ key: "ns/h100", priority: 0, maxReplicas: 2, targetJobsPerReplica: 2 }),
      pool({ key: "ns/a100", priority: 10, maxReplicas: 8, targetJobsPerReplica: 2 }),
    ], { m: 9 });
    expect(plans.get("ns/h100")).toMatchObject({ assigned: 4, replicas: 2 });
    expect(plans.get("ns/a100")).toMatchObject({ assigned: 5, replicas: 3 });
  });

  it("leaves the second pool idle while the preferred one has room", () => {
    const plans = plan([pool({ key: "ns/b", priority: 5 }), pool({ key: "ns/a", priority: 1 })], { m: 3 });
    expect(plans.get("ns/a")!.replicas).toBe(3);
    expect(plans.get("ns/b")!.replicas).toBe(0);
  });

  it("subtracts a pool's own in-flight work from its room", () => {
    const plans = plan([
      pool({ key: "ns/a", priority: 0, maxReplicas: 2, inFlight: 2, busyWorkers: 2, replicas: 2 }),
      pool({ key: "ns/b", priority: 1, maxReplicas: 4 }),
    ], { m: 3 });
    expect(plans.get("ns/a")).toMatchObject({ assigned: 0, replicas: 2 });
    expect(plans.get("ns/b")).toMatchObject({ assigned: 3, replicas: 3 });
  });

  it("scales down no lower than the highest target of the window, so one low reading removes no worker", () => {
    // Long quiet, but 30 s ago the plan wanted 3: a reading of 1 now (a job caught between two reads) holds 3.
    const recentTargets = [[NOW - 30_000, 3], [NOW - 10_000, 1]] as const;
    const held = plan([pool({ key: "ns/a", replicas: 3, lastActivity: NOW - 999_999, recentTargets })], { m: 1 }).get("ns/a")!;
    expect(held).toMatchObject({ replicas: 3, target: 1, recheckInMs: 90_000 });
    expect(held.reason).toMatch(/holding 3: .* but 3 wanted within 120 s/);
    // Once the high has left the window, it goes down, to the highest target still in it.
    const later = [[NOW - 130_000, 3], [NOW - 60_000, 2], [NOW - 10_000, 1]] as const;
    expect(plan([pool({ key: "ns/a", replicas: 3, lastActivity: NOW - 999_999, recentTargets: later })], { m: 1 }).get("ns/a")).toMatchObject({ replicas: 2 });
    // A lowered maxReplicas is not held back by targets of the old one.
    expect(plan([pool({ key: "ns/a", replicas: 3, maxReplicas: 1, lastActivity: NOW - 999_999, recentTargets })], { m: 1 }).get("ns/a")).toMatchObject({ replicas: 1 });
  });

  it("keeps a window's targets as a short falling deque", () => {
    const window = new TargetWindow();
    for (const [at, target] of [[0, 1], [1, 3], [2, 2], [3, 2], [4, 1]] as const) window.add(at, target, 10);
    expect(window.recent).toEqual([[1, 3], [3, 2], [4, 1]]);
    window.add(12, 0, 10);
    expect(window.recent).toEqual([[3, 2], [4, 1], [12, 0]]);
  });

  it("holds a scale-down until the window has passed since the last finished job", () => {
    const held = plan([pool({ key: "ns/a", replicas: 4, lastActivity: NOW - 100_000 })], {}).get("ns/a")!;
    expect(held).toMatchObject({ replicas: 4, recheckInMs: 20_000 });
    const down = plan([pool({ key: "ns/a", replicas: 4, lastActivity: NOW - 120_000 })], {}).get("ns/a")!;
    expect(down).toMatchObject({ replicas: 0 });
    expect(down.reason).toMatch(/scaled down from 4 to 0 after 120 s/);
  });

  it("never scales below the number of busy workers", () => {
    const p = plan([pool({ key: "ns/a", replicas: 4, targetJobsPerReplica: 4, inFlight: 3, busyWorkers: 3, lastActivity: NOW - 500_000 })], {}).get("ns/a")!;
    expect(p).toMatchObject({ wanted: 1, replicas: 3 });
    expect(p.reason).toMatch(/3 workers still busy/);
  });

  it("does not add replicas for pods still pending: replicas already asked for are capacity on its way", () => {
    // 4 replicas exist (some Pending for a node); demand 4: nothing to change.
    expect(plan([pool({ key: "ns/a", replicas: 4 })], { m: 4 }).get("ns/a")).toMatchObject({ replicas: 4 });
  });

  it("sums the models of a pool serving several", () => {
    const p = plan([pool({ key: "ns/a", models: ["x", "y"], maxReplicas: 10 })], { x: 2, y: 3 }).get("ns/a")!;
    expect(p).toMatchObject({ waiting: 5, replicas: 5 });
  });
});
