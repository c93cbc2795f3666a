import { afterAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { ObjectNotFoundError, InvalidObjectKeyError } from "../errors.js";
import { createObjectStore, readAll, type ObjectStore } from "./index.js";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const stores: Array<[string, () => Promise<ObjectStore>]> = [
  ["S3 (versitygw)", () => {
    const { s3 } = testEnv();
    return Promise.resolve(createObjectStore({
      STORAGE_URL: `s3://${s3.bucket}/${uniqueName("storage")}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true,
    }));
  }],
  ["file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pixelmill-store-"));
    dirs.push(dir);
    return createObjectStore({ STORAGE_URL: `file://${dir}`, S3_REGION: "us-east-1", S3_FORCE_PATH_STYLE: false });
  }],
];

describe.each(stores)("object store: %s", (kind, make) => {
  it("round-trips a buffer with its content type and size", async () => {
    const store = await make();
    const body = randomBytes(1000);
    const put = await store.put("inputs/a/cat.png", body, { contentType: "image/png" });
    expect(put.bytes).toBe(1000);
    const got = await store.get("inputs/a/cat.png");
    expect(got.bytes).toBe(1000);
    expect(got.contentType).toBe("image/png");
    expect((await readAll(got.body)).equals(body)).toBe(true);
    expect(store.uri("inputs/a/cat.png")).toMatch(kind === "file" ? /^file:\/\/\/.+\/inputs\/a\/cat\.png$/ : /^s3:\/\/pixelmill\/storage-[0-9a-f]{8}\/inputs\/a\/cat\.png$/);
    store.close();
  });

  it("copies an object to another key (same bytes and type, the source kept); undefined when there is none", async () => {
    const store = await make();
    const body = randomBytes(3000);
    await store.put("outputs/a/job 1/x-1.png", body, { contentType: "image/png" });
    expect(await store.copy("outputs/a/job 1/x-1.png", "outputs/a/job2/y-1.png")).toMatchObject({ key: "outputs/a/job2/y-1.png", bytes: 3000, contentType: "image/png" });
    expect((await readAll((await store.get("outputs/a/job2/y-1.png")).body)).equals(body)).toBe(true);
    expect(await store.head("outputs/a/job 1/x-1.png")).toMatchObject({ bytes: 3000 });
    expect(await store.copy("outputs/a/missing.png", "outputs/a/z.png")).toBeUndefined();
    expect(await store.head("outputs/a/z.png")).toBeUndefined();
    store.close();
  });

  it("stops a put whose signal fires mid-stream: it rejects with the reason and leaves no object", async () => {
    const store = await make();
    const controller = new AbortController();
    const reason = new Error("attempt canceled");
    // A body that trickles: the abort lands while the bytes are still going up.
    const body = Readable.from((async function* () {
      for (let i = 0; i < 40; i++) {
        if (i === 3) controller.abort(reason);
        yield randomBytes(64 * 1024);
        await new Promise((res) => setTimeout(res, 20));
      }
    })());
    await expect(store.put("outputs/x/aborted.png", body, { signal: controller.signal })).rejects.toBe(reason);
    expect(await store.head("outputs/x/aborted.png")).toBeUndefined();
    await expect(store.put("outputs/x/late.png", randomBytes(10), { signal: controller.signal })).rejects.toBe(reason);
    expect(await store.head("outputs/x/late.png")).toBeUndefined();
    store.close();
  });

  it("streams a body larger than one multipart part (6 MiB) intact", async () => {
    const store = await make();
    const body = randomBytes(6 * 1024 * 1024);
    const put = await store.put("big.bin", Readable.from([body.subarray(0, 3e6), body.subarray(3e6)]));
    expect(put.bytes).toBe(body.length);
    expect((await readAll((await store.get("big.bin")).body)).equals(body)).toBe(true);
    store.close();
  });

  it("heads, deletes, and reports missing objects as ObjectNotFoundError", async () => {
    const store = await make();
    await store.put("x/y.json", Buffer.from("{}"));
    expect((await store.head("x/y.json"))?.bytes).toBe(2);
    await store.delete("x/y.json");
    await store.delete("x/y.json"); // twice is harmless
    expect(await store.head("x/y.json")).toBeUndefined();
    await expect(store.get("x/y.json")).rejects.toBeInstanceOf(ObjectNotFoundError);
    store.close();
  });

  it("refuses keys that would escape the store", async () => {
    const store = await make();
    for (const key of ["../etc/passwd", "/abs", "a//b", "a/./b", ""]) {
      await expect(store.put(key, Buffer.from("x"))).rejects.toBeInstanceOf(InvalidObjectKeyError);
    }
    store.close();
  });
});

it("keeps per-test prefixes apart on the shared bucket", async () => {
  const [a, b] = await Promise.all([stores[0]![1](), stores[0]![1]()]);
  await a.put("same-key.txt", Buffer.from("from a"));
  expect(await b.head("same-key.txt")).toBeUndefined();
  a.close();
  b.close();
});
