import { describe, expect, it } from "vitest";
import { failureReasonLabel } from "./job/failure-reasons.js";
import { counter, gauge, histogram, operatorMetrics, Registry, scrapedGauge } from "./metrics.js";

describe("metric names", () => {
  it("take the pixelmill_ prefix and a unit, and the unit their type asks for", () => {
    const registry = new Registry();
    expect(() => counter(registry, "pixelmill_things_total", "h", [])).not.toThrow();
    expect(() => histogram(registry, "pixelmill_thing_seconds", "h", [])).not.toThrow();
    expect(() => gauge(registry, "pixelmill_pool_desired_replicas", "h", [])).not.toThrow();
    expect(() => gauge(registry, "pixelmill_queue_waiting_jobs", "h", [])).not.toThrow();
    expect(() => counter(registry, "things_total", "h", [])).toThrow(/pixelmill_<what>_<unit>/);
    expect(() => counter(registry, "pixelmill_things", "h", [])).toThrow(/pixelmill_<what>_<unit>/);
    expect(() => counter(registry, "pixelmill_thing_seconds", "h", [])).toThrow(/pixelmill_<what>_<unit>/);
    expect(() => histogram(registry, "pixelmill_things_total", "h", [])).toThrow(/pixelmill_<what>_<unit>/);
    expect(() => gauge(registry, "pixelmill_pool_size", "h", [])).toThrow(/pixelmill_<what>_<unit>/);
    expect(() => scrapedGauge(registry, "pixelmill_phase", "h", [])).toThrow(/pixelmill_<what>_<unit>/);
  });

  it("are all well-formed in the operator's set, and reused when asked for again", () => {
    const registry = new Registry();
    const first = operatorMetrics(registry);
    expect(operatorMetrics(registry).decisions).toBe(first.decisions);
    expect(registry.getMetricsAsArray().map((m) => m.name).sort()).toEqual([
      "pixelmill_autoscaler_decisions_total", "pixelmill_imagejob_failures_total", "pixelmill_imagejob_phase_jobs",
      "pixelmill_queue_oldest_waiting_age_seconds", "pixelmill_queue_waiting_jobs", "pixelmill_reconcile_duration_seconds",
      "pixelmill_reconcile_total", "pixelmill_workerpool_desired_replicas", "pixelmill_workerpool_ready_replicas",
    ]);
  });
});

describe("scrapedGauge", () => {
  it("reads its values when scraped, sums its readings, and forgets a removed one", async () => {
    const registry = new Registry();
    const phases = scrapedGauge(registry, "pixelmill_test_phase_jobs", "h", ["phase"]);
    let running = 1;
    const removeA = phases.add(() => [[{ phase: "Running" }, running], [{ phase: "Failed" }, 0]]);
    scrapedGauge(registry, "pixelmill_test_phase_jobs", "h", ["phase"]).add(() => [[{ phase: "Running" }, 2]]);
    expect(await registry.metrics()).toContain('pixelmill_test_phase_jobs{phase="Running"} 3');
    running = 5;
    const text = await registry.metrics();
    expect(text).toContain('pixelmill_test_phase_jobs{phase="Running"} 7');
    expect(text).toContain('pixelmill_test_phase_jobs{phase="Failed"} 0');
    removeA();
    const after = await registry.metrics();
    expect(after).toContain('pixelmill_test_phase_jobs{phase="Running"} 2');
    expect(after).not.toContain('phase="Failed"');
  });
});

describe("failureReasonLabel", () => {
  it("keeps the reasons of common/job/failure-reasons.ts and calls anything else Other", () => {
    for (const reason of ["InputNotFound", "Timeout", "Canceled", "InvalidSpec", "DeadlineExceeded", "WorkerError"]) expect(failureReasonLabel(reason)).toBe(reason);
    for (const reason of [undefined, "", "SomethingNew", "job-4f1c"]) expect(failureReasonLabel(reason)).toBe("Other");
  });
});
