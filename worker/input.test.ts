import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, Agent, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { testEnv, uniqueName } from "../test/harness/env.js";
import { makePki } from "../test/harness/pki.js";
import { JobFailure } from "../common/errors.js";
import { createObjectStore, type ObjectStore } from "../common/storage/index.js";
import { BucketStores } from "./bucket-stores.js";
import { InputFetcher } from "./input.js";

const MAX = 64 * 1024;
let dir: string;
let server: Server;
let base: string;
let agent: Agent;
let store: ObjectStore;
let buckets: BucketStores;
let prefix: string;
const closedEarly: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-input-"));
  const pki = await makePki(dir);
  agent = new Agent({ ca: await readFile(pki.caCert) });
  server = createServer({ cert: await readFile(pki.servingCert), key: await readFile(pki.servingKey) }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const hops = Number(url.searchParams.get("hops") ?? 0);
    if (url.pathname === "/image") return res.end(Buffer.alloc(1000, 7));
    if (url.pathname === "/redirect") {
      res.writeHead(302, { location: hops > 0 ? `/redirect?hops=${hops - 1}` : "/image" });
      return res.end();
    }
    if (url.pathname === "/to-http") return res.writeHead(301, { location: `http://127.0.0.1:1/image` }).end();
    if (url.pathname === "/declared-large") return res.writeHead(200, { "content-length": MAX + 1 }).end(Buffer.alloc(MAX + 1));
    if (url.pathname === "/streamed-large") {
      // No Content-Length: the fetcher must count. It should hang up long before 10 MiB.
      res.on("close", () => { if (!res.writableFinished) closedEarly.push("streamed-large"); });
      const chunk = Buffer.alloc(16 * 1024, 1);
      let sent = 0;
      const pump = (): void => { while (sent < 10 * 1024 * 1024 && res.write(chunk)) sent += chunk.length; if (sent < 10 * 1024 * 1024) res.once("drain", pump); else res.end(); };
      return pump();
    }
    if (url.pathname === "/slow") { res.writeHead(200); res.write("x"); return; } // never ends
    res.writeHead(Number(url.pathname.slice(1)) || 500).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { s3 } = testEnv();
  const s3Settings = { S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true };
  prefix = uniqueName("input");
  store = createObjectStore({ ...s3Settings, STORAGE_URL: `s3://${s3.bucket}/${prefix}` });
  buckets = new BucketStores(s3Settings);
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  agent?.destroy();
  store?.close();
  buckets?.close();
  await rm(dir, { recursive: true, force: true });
});

function fetcher(opts: { timeoutMs?: number; httpsAgent?: Agent | null } = {}): InputFetcher {
  return new InputFetcher({ store, bucketStore: buckets.for, maxBytes: MAX, timeoutMs: opts.timeoutMs ?? 5000, httpsAgent: opts.httpsAgent === null ? undefined : agent });
}

async function failure(p: Promise<unknown>): Promise<JobFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(JobFailure);
  return err as JobFailure;
}

describe("object store inputs", () => {
  it("reads upload:<key> from the configured store and s3://bucket/key from that bucket", async () => {
    const body = randomBytes(5000);
    await store.put("uploads/a.png", body);
    expect((await fetcher().fetch("upload:uploads/a.png")).equals(body)).toBe(true);
    const { s3 } = testEnv();
    expect((await fetcher().fetch(`s3://${s3.bucket}/${prefix}/uploads/a.png`)).equals(body)).toBe(true);
  });

  it("names missing objects, bad keys and refused schemes InputNotFound", async () => {
    const { s3 } = testEnv();
    for (const uri of ["upload:uploads/missing.png", `s3://${s3.bucket}/${prefix}/missing.png`, "upload:../etc/passwd", "s3://Bad_Bucket/x", "file:///etc/passwd", "http://127.0.0.1/x.png", "nothing"]) {
      const f = await failure(fetcher().fetch(uri));
      expect(f.reason, uri).toBe("InputNotFound");
    }
    expect((await failure(fetcher().fetch("file:///etc/passwd"))).message).toMatch(/scheme file: are not allowed; use upload:<key>, s3:\/\/bucket\/key or https:\/\//);
  });

  it("refuses an object over FETCH_MAX_BYTES with InputTooLarge", async () => {
    await store.put("uploads/big.bin", randomBytes(MAX + 1));
    expect((await failure(fetcher().fetch("upload:uploads/big.bin"))).reason).toBe("InputTooLarge");
  });
});

describe("https inputs", () => {
  it("fetches a body, following up to 5 redirects", async () => {
    expect((await fetcher().fetch(`${base}/image`)).equals(Buffer.alloc(1000, 7))).toBe(true);
    expect((await fetcher().fetch(`${base}/redirect?hops=4`)).length).toBe(1000); // 5 redirects
    const f = await failure(fetcher().fetch(`${base}/redirect?hops=5&sig=secret`)); // 6
    expect(f.reason).toBe("InputNotFound");
    expect(f.message).toBe(`${base}/redirect redirects more than 5 times`); // the query (credentials of presigned URLs) is left out
  });

  it("refuses a redirect to http", async () => {
    expect((await failure(fetcher().fetch(`${base}/to-http`))).message).toMatch(/redirects to a http: URL; only https is allowed/);
  });

  it("maps 404 and 410 to InputNotFound and other statuses to StorageError", async () => {
    expect((await failure(fetcher().fetch(`${base}/404`))).reason).toBe("InputNotFound");
    expect((await failure(fetcher().fetch(`${base}/410`))).reason).toBe("InputNotFound");
    const f = await failure(fetcher().fetch(`${base}/503`));
    expect([f.reason, f.message]).toEqual(["StorageError", `GET ${base}/503 answered 503`]);
  });

  it("refuses bodies over FETCH_MAX_BYTES, declared or streamed, and hangs up on the stream", async () => {
    expect((await failure(fetcher().fetch(`${base}/declared-large`))).reason).toBe("InputTooLarge");
    expect((await failure(fetcher().fetch(`${base}/streamed-large`))).reason).toBe("InputTooLarge");
    await expect.poll(() => closedEarly).toContain("streamed-large");
  });

  it("gives up after FETCH_TIMEOUT_MS with a retryable StorageError", async () => {
    const started = Date.now();
    const f = await failure(fetcher({ timeoutMs: 300 }).fetch(`${base}/slow`));
    expect([f.reason, f.message]).toEqual(["StorageError", "fetching the input took longer than 300 ms (FETCH_TIMEOUT_MS)"]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("throws the caller's abort reason when the job's own signal fires first", async () => {
    const reason = new Error("job limit");
    await expect(fetcher().fetch(`${base}/slow`, abortAfter(100, reason))).rejects.toBe(reason);
  });

  it("trusts only the agent's CAs: Node's default store refuses the test server", async () => {
    const f = await failure(fetcher({ httpsAgent: null }).fetch(`${base}/image`));
    expect(f.reason).toBe("StorageError");
    expect(f.message).toMatch(/certificate/);
  });
});

function abortAfter(ms: number, reason: Error): AbortSignal {
  const c = new AbortController();
  setTimeout(() => c.abort(reason), ms).unref();
  return c.signal;
}
