import { describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { chartDir, render } from "./helm.js";

/** The metrics the processes export (common/metrics.ts and its users), process metrics included. */
const EXPORTED = new Set([
  "pixelmill_http_requests_total", "pixelmill_http_request_duration_seconds", "pixelmill_jobs_total", "pixelmill_job_stage_seconds",
  "pixelmill_job_duration_seconds", "pixelmill_reconcile_total", "pixelmill_reconcile_duration_seconds", "pixelmill_queue_waiting_jobs",
  "pixelmill_queue_oldest_waiting_age_seconds", "pixelmill_imagejob_phase_jobs", "pixelmill_imagejob_failures_total",
  "pixelmill_autoscaler_decisions_total", "pixelmill_workerpool_desired_replicas", "pixelmill_workerpool_ready_replicas",
  "pixelmill_kube_api_requests_total", "pixelmill_kube_api_request_duration_seconds", "pixelmill_rate_limited_requests_total",
  "process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds",
]);

interface Panel { type: string; title: string; targets?: Array<{ expr: string }> }

describe("the Grafana dashboard", () => {
  it("queries only metrics the processes export", async () => {
    const dashboard = JSON.parse(await readFile(join(chartDir, "dashboards/pixelmill.json"), "utf8")) as { panels: Panel[] };
    const graphs = dashboard.panels.filter((p) => p.type !== "row");
    expect(graphs.length).toBeGreaterThan(10);
    const queried = new Set<string>();
    for (const panel of graphs) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        const names = expr.match(/\b(pixelmill|process|nodejs)_[a-z0-9_]+/g) ?? [];
        expect(names.length, expr).toBeGreaterThan(0);
        // Histograms are queried through their series.
        for (const n of names) queried.add(n.replace(/_(bucket|sum|count)$/, ""));
      }
    }
    expect([...queried].filter((n) => !EXPORTED.has(n))).toEqual([]);
    expect(queried.size).toBe(EXPORTED.size);
  });

  it("ships in a ConfigMap for Grafana's sidecar when enabled", async () => {
    const file = await readFile(join(chartDir, "dashboards/pixelmill.json"), "utf8");
    const cm = (await render({ set: ["grafanaDashboard.enabled=true"] })).find((o) => o.kind === "ConfigMap")!;
    expect(cm.metadata!.labels).toMatchObject({ grafana_dashboard: "1" });
    expect(JSON.parse(cm.data!["pixelmill.json"]!)).toEqual(JSON.parse(file));
    expect(await render()).not.toContainEqual(expect.objectContaining({ kind: "ConfigMap" }));
  });
});
