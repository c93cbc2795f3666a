import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_VERSION, GROUP, VERSION, WORKERPOOL_PLURAL, type WorkerPoolStatus } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { poolHistoryKey } from "../../common/pool-history.js";
import { PoolSampler } from "../../operator/controllers/workerpool/pool-sampler.js";
import { startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { testEnv } from "../../test/support/env.js";
import { poolListSchema, type PoolListView, type PoolView, type ProblemDetails } from "./schemas.js";

let api: ApiFixture;
let other: { key: string };
let redis: Redis;

beforeAll(async () => {
  api = await startApi("pools");
  other = await api.newTenant("pools-other");
  redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await api?.stop();
});

const pools = (key: string | undefined) => fetch(`${api.url}/v1/pools`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
/** The fixture's pools: the apiserver is shared with other test files, which may have their own. */
const ours = (list: PoolListView) => list.items.filter((p) => p.namespace === api.namespace);

async function createPool(name: string, spec: object, status?: WorkerPoolStatus): Promise<void> {
  const at = { group: GROUP, version: VERSION, namespace: api.namespace, plural: WORKERPOOL_PLURAL };
  await api.custom.createNamespacedCustomObject({ ...at, body: { apiVersion: API_VERSION, kind: "WorkerPool", metadata: { name }, spec } });
  // Through the status subresource, as the operator writes it.
  if (status) await api.custom.patchNamespacedCustomObjectStatus({ ...at, name, body: { status } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

describe("GET /v1/pools", () => {
  const now = Date.now();
  const sample = (at: number, waiting: number) => ({ at, desired: 2, ready: 1, pending: 1, waiting, inFlight: 3 });
  const view = ({ inFlight, ...s }: ReturnType<typeof sample>) => ({ ...s, in_flight: inFlight });

  beforeAll(async () => {
    await createPool("h100", {
      image: "pixelmill/worker:test", models: ["resize-x2", "blur"], gpu: { count: 1, product: "NVIDIA-H100-80GB-HBM3" }, priority: 5,
      autoscaling: { minReplicas: 1, maxReplicas: 6 },
    }, {
      waiting: 7, inFlight: 3, desiredReplicas: 2, replicas: 2, readyReplicas: 1, pendingReplicas: 1,
      lastScaleTime: "2026-12-01T10:00:00Z", lastScaleReason: "7 jobs waiting",
      conditions: [{ type: "Ready", status: "False", reason: "ReplicasPending", message: "1 of 2 replicas ready", lastTransitionTime: "2026-12-01T10:00:00Z" }],
    });
    await createPool("cpu", { image: "pixelmill/worker:test", models: ["grayscale"] }); // never reconciled: no status
    // As the operator's sampler records them; one from before the last hour is dropped by the API.
    const sampler = new PoolSampler(redis, api.prefix, createLogger({ level: "silent" }));
    for (const s of [sample(now - 2 * 3600_000, 1), sample(now - 60_000, 5), sample(now - 30_000, 7)]) expect(await sampler.record(api.namespace, "h100", s)).toBe(true);
  });

  it("lists every pool with its spec, status and last hour, oldest sample first", async () => {
    const res = await pools(api.adminKey);
    expect(res.status).toBe(200);
    const body = (await res.json()) as PoolListView;
    expect(poolListSchema.safeParse(body).error).toBeUndefined(); // as the OpenAPI document describes it
    expect(ours(body).map((p) => p.name)).toEqual(["cpu", "h100"]);
    const h100 = ours(body).find((p) => p.name === "h100")!;
    expect(h100).toEqual({
      name: "h100", namespace: api.namespace, gpu: { product: "NVIDIA-H100-80GB-HBM3", count: 1 }, models: ["resize-x2", "blur"], priority: 5,
      replicas: { min: 1, max: 6, desired: 2, ready: 1, pending: 1 }, waiting: 7, in_flight: 3,
      last_scale_reason: "7 jobs waiting", last_scale_time: "2026-12-01T10:00:00Z",
      conditions: [{ type: "Ready", status: "False", reason: "ReplicasPending", message: "1 of 2 replicas ready" }],
      history: [
        { ...view(sample(now - 60_000, 5)), at: new Date(now - 60_000).toISOString() },
        { ...view(sample(now - 30_000, 7)), at: new Date(now - 30_000).toISOString() },
      ],
    } satisfies PoolView);
    expect(ours(body).find((p) => p.name === "cpu")).toEqual({
      name: "cpu", namespace: api.namespace, gpu: { product: null, count: 0 }, models: ["grayscale"], priority: 0,
      replicas: { min: 0, max: 4, desired: 0, ready: 0, pending: 0 }, waiting: 0, in_flight: 0,
      last_scale_reason: null, last_scale_time: null, conditions: [], history: [],
    } satisfies PoolView);
  });

  it("skips a sample it cannot read rather than failing the page", async () => {
    await redis.rpush(poolHistoryKey(api.prefix, api.namespace, "cpu"), "not json", JSON.stringify({ at: now - 1000 }));
    const body = (await (await pools(api.adminKey)).json()) as PoolListView;
    expect(ours(body).find((p) => p.name === "cpu")?.history).toEqual([]);
  });

  it("needs the admin scope: 401 without a key, 403 for another tenant's key or a key without admin", async () => {
    const none = await pools(undefined);
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    for (const key of [other.key, api.key, (await api.newKey(["keys:admin", "jobs:read"])).key]) {
      const res = await pools(key);
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as ProblemDetails).scope).toBe("admin");
    }
  });
});
