import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import express from "express";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJobList } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { canPing } from "../../devstack/redis.js";
import { freePort, startProcess, waitUntil, type Managed } from "../../devstack/processes.js";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { startFrozenServer, type FrozenServer } from "../../test/support/frozen-server.js";
import { errorHandler } from "./problem.js";

/**
 * A submit that could not be kept is refused (503, Retry-After) before any ImageJob exists, and
 * /readyz names the dependency: a Redis that refuses writes, an S3 that takes connections and
 * never answers. Each on a private server, since the harness's are shared.
 */
let png: Buffer;
beforeAll(async () => {
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: "#2040c0" } }).png().toBuffer();
});

function form(): FormData {
  const body = new FormData();
  body.append("model", "resize-x2");
  body.append("image", new Blob([png], { type: "image/png" }), "cat.png");
  return body;
}

async function imageJobCount(api: ApiFixture): Promise<number> {
  const list = (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL })) as ImageJobList;
  return list.items.length;
}

async function readyz(api: ApiFixture): Promise<{ status: number; checks: Record<string, string>; detail?: string }> {
  const res = await api.fetch(`${api.url}/readyz`);
  const body = (await res.json()) as { checks: Record<string, string>; detail?: string };
  return { status: res.status, checks: body.checks, detail: body.detail };
}

/** POSTs a multipart job; the answer, its problem body and how long it took. */
async function submit(api: ApiFixture): Promise<{ res: Response; body: Record<string, unknown>; ms: number }> {
  const started = Date.now();
  const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form(), signal: AbortSignal.timeout(30_000) });
  const body = (await res.json()) as Record<string, unknown>;
  return { res, body, ms: Date.now() - started };
}

function expectRefused({ res, body, ms }: Awaited<ReturnType<typeof submit>>, dependency: string): void {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("5");
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(body).toMatchObject({ type: "https://pixelmill.io/problems/unavailable", status: 503, dependency });
  expect(ms).toBeLessThan(5000);
}

describe("Redis refusing writes (maxmemory reached, noeviction)", () => {
  let dir: string;
  let redis: Managed;
  let admin: Redis;
  let api: ApiFixture;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pixelmill-oom-redis-"));
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    redis = startProcess({
      name: "redis-oom", command: "redis-server", logPath: join(dir, "redis.log"),
      args: ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
    });
    await waitUntil("the private redis-server to answer PING", () => canPing(url), { timeoutMs: 15_000, process: redis });
    admin = new Redis(url);
    api = await startApi("deps-redis", { redisUrl: url, healthCheckIntervalMs: 500 });
  });
  afterAll(async () => {
    await api?.stop();
    admin?.disconnect();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("is ready while Redis takes writes, then says redis on /readyz and refuses submits with 503 before any ImageJob; back once Redis is", async () => {
    expect(await readyz(api)).toMatchObject({ status: 200, checks: { postgres: "ok", apiserver: "ok", mirror: "ok", storage: "ok", redis: "ok" } });

    await admin.config("SET", "maxmemory", "1"); // every write is now refused: OOM
    const notReady = await eventually(async () => {
      const r = await readyz(api);
      return r.status === 503 ? r : undefined;
    }, "/readyz to answer 503", 10_000);
    expect(notReady.checks).toMatchObject({ redis: "unavailable", storage: "ok", postgres: "ok" });
    expect(notReady.detail).toBe("not ready: redis");

    const keysBefore = await api.listKeys();
    expectRefused(await submit(api), "redis");
    expect(await imageJobCount(api)).toBe(0);
    expect(await api.listKeys()).toEqual(keysBefore); // refused before the upload was read

    // The first submit after Redis is back checks again and goes through.
    await admin.config("SET", "maxmemory", "0");
    const accepted = await submit(api);
    expect(accepted.res.status).toBe(202);
    expect(await imageJobCount(api)).toBe(1);
  });
});

describe("S3 that takes connections and never answers (frozen)", () => {
  let frozen: FrozenServer;
  let api: ApiFixture;

  beforeAll(async () => {
    frozen = await startFrozenServer();
    // The S3 client's own deadline is far away: what answers in seconds is the health check.
    api = await startApi("deps-s3", { s3: { endpoint: frozen.url, requestTimeoutMs: 60_000 }, healthCheckTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await api?.stop();
    await frozen?.close();
  });

  it("refuses a submit whose upload meets it with 503 within seconds, says storage on /readyz, and creates no ImageJob", async () => {
    // At once after the start: the upload goes out before any check has found S3 frozen.
    expectRefused(await submit(api), "storage");
    const r = await readyz(api);
    expect(r).toMatchObject({ status: 503, detail: "not ready: storage", checks: { storage: "unavailable", redis: "ok", postgres: "ok" } });
    // Known now: refused before the body is read, still within seconds (one shared check).
    expectRefused(await submit(api), "storage");
    expect(await imageJobCount(api)).toBe(0);
  });
});

describe("the S3 client's deadlines, as the API answers them", () => {
  it("answers a TimeoutError (no connection, no answer, a stalled transfer) 503 with Retry-After", async () => {
    const app = express();
    app.get("/x", () => {
      throw Object.assign(new Error("@smithy/node-http-handler - the request socket timed out after 30000 ms of inactivity"), { name: "TimeoutError" });
    });
    app.use(errorHandler(createLogger({ level: "silent" })));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/x`);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.json()).toMatchObject({ type: "https://pixelmill.io/problems/unavailable" });
    } finally {
      server.close();
    }
  });
});
