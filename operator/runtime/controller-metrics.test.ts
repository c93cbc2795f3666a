import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { operatorMetrics, Registry } from "../../common/metrics.js";
import { Controller } from "./controller.js";

describe("Controller metrics", () => {
  it("counts each reconcile by controller and result, and times it", async () => {
    const registry = new Registry();
    const metrics = operatorMetrics(registry);
    const outcomes: Record<string, () => Promise<{ requeueAfterMs?: number }>> = {
      "ns/ok": () => Promise.resolve({}),
      "ns/later": () => Promise.resolve({ requeueAfterMs: 3_600_000 }),
      "ns/conflict": () => Promise.reject(Object.assign(new Error("conflict"), { code: 409 })),
      "ns/broken": () => Promise.reject(new Error("boom")),
    };
    let calls = 0;
    const controller = new Controller("imagejob", { reconcile: (key) => (calls++, outcomes[key]!()) }, createLogger({ level: "silent" }), {
      workers: 2, baseDelayMs: 60_000, metrics,
    });
    controller.start();
    for (const key of Object.keys(outcomes)) controller.add(key);
    await expect.poll(() => calls).toBe(4);
    await controller.stop();

    const text = await registry.metrics();
    for (const result of ["success", "requeue", "conflict", "error"]) {
      expect(text).toContain(`pixelmill_reconcile_total{controller="imagejob",result="${result}"} 1`);
    }
    expect(text).toContain('pixelmill_reconcile_duration_seconds_count{controller="imagejob"} 4');
    expect(text).not.toContain("ns/");
  });

  it("reuses the metrics already in a registry", () => {
    const registry = new Registry();
    expect(operatorMetrics(registry).reconciles).toBe(operatorMetrics(registry).reconciles);
    expect(() => operatorMetrics(registry).waitingJobs.set({ model: "resize-x2" }, 3)).not.toThrow();
  });
});
