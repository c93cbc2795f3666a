import { describe, expect, it } from "vitest";
import { withServer } from "../../test/support/serve.js";
import { createLogger } from "../../common/logger.js";
import { Registry } from "../../common/metrics.js";
import { createApp, type AppDeps } from "../app.js";
import { JobEvents } from "../domain/job-events.js";

const JOB_ID = "0b6f2a52-7c1e-4d2b-9a53-3f1c2d4e5f60";

/** The app on its own registry; nothing behind it is reached by these requests (no key, health). */
async function withApp(metrics: Registry, run: (url: string) => Promise<void>): Promise<void> {
  const app = createApp({ log: createLogger({ level: "silent" }), publicUrl: "http://api.test", events: new JobEvents(), metrics, inputBuckets: [], store: { uri: (k: string) => `s3://b/${k}` } } as unknown as AppDeps);
  await withServer(app, run);
}

describe("GET /metrics", () => {
  it("serves the request counters without a key, by route pattern and code, never a raw path", async () => {
    const registry = new Registry();
    await withApp(registry, async (url) => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/v1/jobs/${JOB_ID}`)).status).toBe(401);
      expect((await fetch(`${url}/no/such/${JOB_ID}`)).status).toBe(404);

      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toContain('pixelmill_http_requests_total{method="GET",route="/healthz",code="200"} 2');
      expect(text).toContain('pixelmill_http_requests_total{method="GET",route="/v1/jobs/:id",code="401"} 1');
      expect(text).toContain('pixelmill_http_requests_total{method="GET",route="unmatched",code="404"} 1');
      expect(text).toMatch(/pixelmill_http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/v1\/jobs\/:id"\} 1/);
      expect(text).toContain('pixelmill_http_request_duration_seconds_count{method="GET",route="/healthz"} 2');
      expect(text).not.toContain(JOB_ID);
    });
  });

  it("has the process metrics on the process's registry", async () => {
    const { processRegistry } = await import("../../common/metrics.js");
    const text = await processRegistry().metrics();
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_heap_size_used_bytes");
  });
});
