import { afterAll, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { testEnv, uniqueName } from "../test/support/env.js";
import { freePort } from "../devstack/processes.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const cacheDirs: string[] = [];
afterAll(() => Promise.all(cacheDirs.map((d) => rm(d, { recursive: true, force: true }))));

/** worker/main.ts as its own process, as the image runs it (through tsx here, not dist/). */
function startMain(extra: Record<string, string>) {
  const { s3, redisUrl } = testEnv();
  const prefix = uniqueName("main");
  const cacheDir = join(tmpdir(), prefix);
  cacheDirs.push(cacheDir);
  const child = spawn(process.execPath, ["--import", "tsx", "worker/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true", MODEL_CACHE_DIR: cacheDir, HEALTH_PORT: "0", ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const lines = (): Record<string, unknown>[] => stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, lines, output: () => stdout + stderr };
}

it("refuses to start without WORKER_MODELS, exiting 1 with the reason", async () => {
  const main = startMain({ WORKER_MODELS: "" });
  expect(await main.exited).toBe(1);
  expect(main.output()).toMatch(/WORKER_MODELS is empty/);
});

it("starts, answers its readiness probe, then drains and exits 0 on SIGTERM", async () => {
  const port = await freePort();
  const main = startMain({ WORKER_MODELS: "resize-x2,segment", WORKER_CONCURRENCY: "1", HEALTH_PORT: String(port) });
  const probe = (path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.status, () => 0);
  try {
    await expect.poll(() => main.lines().find((l) => l.msg === "Worker started"), { timeout: 20_000, interval: 100 })
      .toMatchObject({ models: ["resize-x2", "segment"], concurrency: 1, executionProviders: ["cpu"] });
    expect(await probe("/readyz")).toBe(200);
    expect(await probe("/healthz")).toBe(200);
    main.child.kill("SIGTERM");
    expect(await main.exited).toBe(0);
    expect(main.lines().map((l) => l.msg)).toContain("Worker stopped");
  } finally {
    main.child.kill("SIGKILL");
  }
});
