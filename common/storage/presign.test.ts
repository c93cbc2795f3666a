import { afterAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { createObjectStore, FileObjectStore, S3ObjectStore, UrlSigner } from "./index.js";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function s3Store(prefix: string): S3ObjectStore {
  const { s3 } = testEnv();
  return new S3ObjectStore({
    bucket: s3.bucket, prefix, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

describe("S3ObjectStore", () => {
  it("presigns a GET that downloads the object without credentials, until it expires", async () => {
    const store = s3Store(`${uniqueName("presign")}/`);
    const body = randomBytes(2048);
    await store.put("outputs/a b/ü.png", body, { contentType: "image/png" });
    const res = await fetch(await store.presignGet("outputs/a b/ü.png", 60));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);

    const short = await store.presignGet("outputs/a b/ü.png", 1);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(short)).status).toBe(403);
    store.close();
  });

  it("signs for S3_PUBLIC_ENDPOINT when set: the URL names the public host, and S3 takes it when asked by that Host", async () => {
    const { s3 } = testEnv();
    const prefix = `${uniqueName("presign-public")}/`;
    const store = s3Store(prefix);
    const body = randomBytes(512);
    await store.put("outputs/p/1.png", body, { contentType: "image/png" });
    const pub = new S3ObjectStore({
      bucket: s3.bucket, prefix, endpoint: s3.endpoint, publicEndpoint: "https://s3.pixelmill.example", region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const url = new URL(await pub.presignGet("outputs/p/1.png", 60));
    expect(url.origin).toBe("https://s3.pixelmill.example");
    expect(url.href).not.toContain(new URL(s3.endpoint).host);
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    // What a proxy in front of S3 does: the request reaches the server with the Host the URL names.
    const viaProxy = await getWithHost(s3.endpoint, url, url.host);
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.body.equals(body)).toBe(true);
    // The signature covers that host: the same URL with the internal Host is refused.
    expect((await getWithHost(s3.endpoint, url, new URL(s3.endpoint).host)).status).toBe(403);
    pub.close();
    store.close();
  });

  it("maps its own URIs back to keys, and no others", () => {
    const { s3 } = testEnv();
    const store = s3Store("tenant/");
    expect(store.keyOf(store.uri("outputs/x/1.png"))).toBe("outputs/x/1.png");
    expect(store.keyOf(`s3://${s3.bucket}/other/outputs/x/1.png`)).toBeUndefined();
    expect(store.keyOf("s3://another-bucket/tenant/outputs/x/1.png")).toBeUndefined();
    expect(store.keyOf(`s3://${s3.bucket}/tenant/../escape`)).toBeUndefined();
    expect(store.keyOf("https://example.com/tenant/x.png")).toBeUndefined();
    store.close();
  });
});

/** GET `url`'s path and query from the server at `endpoint`, sending `host` as the Host header. */
function getWithHost(endpoint: string, url: URL, host: string): Promise<{ status: number; body: Buffer }> {
  const server = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: server.hostname, port: server.port, path: url.pathname + url.search, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("FileObjectStore", () => {
  it("maps its own file:// URIs back to keys, and no others", async () => {
    const root = await mkdtemp(join(tmpdir(), "pixelmill-keyof-"));
    dirs.push(root);
    const store = new FileObjectStore(root);
    expect(store.keyOf(store.uri("outputs/x/1.png"))).toBe("outputs/x/1.png");
    expect(store.keyOf(store.uri("..dots/1.png"))).toBe("..dots/1.png");
    expect(store.keyOf(pathToFileURL(join(root, "..", "elsewhere.png")).href)).toBeUndefined();
    expect(store.keyOf(pathToFileURL(root).href)).toBeUndefined();
    expect(store.keyOf("s3://bucket/outputs/x/1.png")).toBeUndefined();
  });

  it("signs URLs only with a signer", async () => {
    const root = await mkdtemp(join(tmpdir(), "pixelmill-sign-"));
    dirs.push(root);
    await expect(new FileObjectStore(root).presignGet("a.png", 60)).rejects.toThrow(/signer/);
    const signer = new UrlSigner({ baseUrl: "https://px.example/v1/files/", secret: "s".repeat(32), now: () => 1_700_000_000_000 });
    const store = createObjectStore({ STORAGE_URL: pathToFileURL(root).href, S3_REGION: "us-east-1", S3_FORCE_PATH_STYLE: false }, { fileUrlSigner: signer });
    const url = new URL(await store.presignGet("outputs/a b/1.png", 90));
    expect(url.pathname).toBe("/v1/files/outputs/a%20b/1.png");
    expect(url.searchParams.get("expires")).toBe("1700000090");
    expect(signer.verify("outputs/a b/1.png", "1700000090", url.searchParams.get("sig")!)).toBe(true);
  });
});

describe("UrlSigner", () => {
  const at = (now: number) => new UrlSigner({ baseUrl: "http://x/v1/files", secret: "k".repeat(40), now: () => now });

  it("verifies its own signatures until they expire, and nothing else", () => {
    const url = new URL(at(1_000_000).sign("k/1.png", 60));
    const [expires, sig] = [url.searchParams.get("expires")!, url.searchParams.get("sig")!];
    expect(at(1_000_000 + 60_000).verify("k/1.png", expires, sig)).toBe(true);
    expect(at(1_000_000 + 61_000).verify("k/1.png", expires, sig)).toBe(false);
    expect(at(1_000_000).verify("k/2.png", expires, sig)).toBe(false);
    expect(at(1_000_000).verify("k/1.png", String(Number(expires) + 1), sig)).toBe(false);
    expect(at(1_000_000).verify("k/1.png", expires, sig.toUpperCase())).toBe(false);
    expect(at(1_000_000).verify("k/1.png", undefined, sig)).toBe(false);
    expect(at(1_000_000).verify("k/1.png", "1e99", sig)).toBe(false);
  });

  it("wants a secret of at least 32 characters", () => {
    expect(() => new UrlSigner({ baseUrl: "http://x", secret: "short" })).toThrow(/32/);
  });
});
