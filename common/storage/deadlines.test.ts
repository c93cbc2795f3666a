import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { startFrozenServer, type FrozenServer } from "../../test/support/frozen-server.js";
import { createObjectStore, FileObjectStore } from "./index.js";

let frozen: FrozenServer;
let frozenUrl: string;
const dirs: string[] = [];

beforeAll(async () => {
  frozen = await startFrozenServer();
  frozenUrl = frozen.url;
});
afterAll(async () => {
  await frozen.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function s3Store(endpoint: string, requestTimeoutMs?: number) {
  const { s3 } = testEnv();
  return createObjectStore({
    STORAGE_URL: `s3://${s3.bucket}/${uniqueName("deadlines")}`, S3_ENDPOINT: endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true, S3_REQUEST_TIMEOUT_MS: requestTimeoutMs,
  });
}

describe("S3 deadlines", () => {
  it("fails a put, a get and a check against an S3 that never answers with TimeoutError, within the request deadline and the SDK's retries", async () => {
    const store = s3Store(frozenUrl, 400);
    for (const call of [() => store.put("inputs/x.png", Buffer.from("tiny")), () => store.get("inputs/x.png"), () => store.check()]) {
      const started = Date.now();
      await expect(call()).rejects.toMatchObject({ name: "TimeoutError" });
      expect(Date.now() - started).toBeLessThan(5000); // 3 attempts of 400 ms and the backoff between
    }
    store.close();
  });

  it("passes its check against the real S3 server, and fails it for a bucket that is not there", async () => {
    const { s3 } = testEnv();
    const store = s3Store(s3.endpoint);
    await store.check();
    store.close();
    const missing = createObjectStore({
      STORAGE_URL: `s3://no-such-bucket-${uniqueName("b")}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true,
    });
    await expect(missing.check()).rejects.toThrow();
    missing.close();
  });
});

describe("file store check", () => {
  it("passes in a folder it can write (leaving nothing behind), fails where no folder can be made", async () => {
    const root = await mkdtemp(join(tmpdir(), "pixelmill-check-"));
    dirs.push(root);
    await new FileObjectStore(join(root, "store")).check();
    await writeFile(join(root, "a-file"), "x");
    // Root can write anywhere; a path through a file cannot be a folder for anyone.
    await expect(new FileObjectStore(join(root, "a-file", "store")).check()).rejects.toMatchObject({ code: "ENOTDIR" });
    expect(await readdir(join(root, "store"))).toEqual([]);
  });
});
