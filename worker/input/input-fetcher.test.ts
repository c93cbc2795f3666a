import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, Agent, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { testEnv, uniqueName } from "../../test/support/env.js";
import { makePki } from "../../devstack/pki.js";
import { loadConfig } from "../../common/config.js";
import { inputBuckets } from "../../common/job/input-uri.js";
import { JobFailure } from "../../common/errors.js";
import { createObjectStore, type ObjectStore } from "../../common/storage/index.js";
import { BucketStores } from "../../common/storage/bucket-stores.js";
import { ANY_ADDRESS, PUBLIC_ONLY, type AddressPolicy } from "../../common/address-policy.js";
import type { Resolve } from "./https-get.js";
import { InputFetcher } from "./input-fetcher.js";

const MAX = 64 * 1024;
let dir: string;
let server: Server;
let base: string;
/** The same server on 127.0.0.2, which the SSRF tests' policy pretends is a public address. */
let publicServer: Server;
let publicPort: number;
let agent: Agent;
let store: ObjectStore;
let buckets: BucketStores;
let prefix: string;
const closedEarly: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-input-"));
  const pki = await makePki(dir);
  agent = new Agent({ ca: await readFile(pki.caCert) });
  const tls = { cert: await readFile(pki.servingCert), key: await readFile(pki.servingKey) };
  const handler = (req: IncomingMessage, res: ServerResponse): unknown => {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const hops = Number(url.searchParams.get("hops") ?? 0);
    if (url.pathname === "/image") return res.end(Buffer.alloc(1000, 7));
    if (url.pathname === "/redirect-to") return res.writeHead(302, { location: url.searchParams.get("to") ?? "/" }).end();
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
  };
  server = createServer(tls, handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  publicServer = createServer(tls, handler);
  await new Promise<void>((r) => publicServer.listen(0, "127.0.0.2", r));
  publicPort = (publicServer.address() as AddressInfo).port;

  const { s3 } = testEnv();
  const s3Settings = { S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true };
  prefix = uniqueName("input");
  store = createObjectStore({ ...s3Settings, STORAGE_URL: `s3://${s3.bucket}/${prefix}` });
  buckets = new BucketStores(s3Settings);
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  publicServer?.closeAllConnections();
  await new Promise((r) => publicServer?.close(r));
  agent?.destroy();
  store?.close();
  buckets?.close();
  await rm(dir, { recursive: true, force: true });
});

interface FetcherOpts {
  timeoutMs?: number;
  httpsAgent?: Agent | null;
  /** ANY_ADDRESS unless given: most tests serve from 127.0.0.1. */
  addressPolicy?: AddressPolicy | null;
  resolve?: Resolve;
  inputBuckets?: string[];
}

/** Jobs here run in namespace NS, as the queue job's data says. */
const NS = "team-a";

type Fetch = { fetch(uri: string, signal?: AbortSignal, namespace?: string): Promise<Buffer> };

function fetcher(opts: FetcherOpts = {}): Fetch {
  const inputs = new InputFetcher({
    store, bucketStore: buckets.for, maxBytes: MAX, timeoutMs: opts.timeoutMs ?? 5000, httpsAgent: opts.httpsAgent === null ? undefined : agent,
    addressPolicy: opts.addressPolicy === null ? undefined : (opts.addressPolicy ?? ANY_ADDRESS), resolve: opts.resolve, inputBuckets: opts.inputBuckets,
  });
  return { fetch: (uri, signal, namespace = NS) => inputs.fetch({ uri, namespace }, signal) };
}

async function failure(p: Promise<unknown>): Promise<JobFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(JobFailure);
  return err as JobFailure;
}

describe("object store inputs", () => {
  it("reads upload:<key> from the configured store and s3://bucket/key from that bucket", async () => {
    const body = randomBytes(5000);
    await store.put("uploads/team-a/a.png", body);
    expect((await fetcher().fetch("upload:uploads/team-a/a.png")).equals(body)).toBe(true);
    const { s3 } = testEnv();
    expect((await fetcher().fetch(`s3://${s3.bucket}/${prefix}/uploads/team-a/a.png`)).equals(body)).toBe(true);
  });

  it("names missing objects, bad keys and refused schemes InputNotFound", async () => {
    const { s3 } = testEnv();
    for (const uri of ["upload:uploads/team-a/missing.png", `s3://${s3.bucket}/${prefix}/uploads/team-a/missing.png`, "upload:../etc/passwd", "s3://Bad_Bucket/x", "file:///etc/passwd", "http://127.0.0.1/x.png", "nothing"]) {
      const f = await failure(fetcher().fetch(uri));
      expect(f.reason, uri).toBe("InputNotFound");
    }
    expect((await failure(fetcher().fetch("file:///etc/passwd"))).message).toMatch(/scheme file: are not allowed; use upload:<key>, s3:\/\/<bucket>\/<key> or https:\/\/<host>\/<path>/);
  });

  it("reads s3:// inputs only from INPUT_BUCKETS, by default the configured store's bucket", async () => {
    const { s3 } = testEnv();
    await store.put("uploads/team-a/b.png", randomBytes(10));
    const other = await failure(fetcher().fetch("s3://other-bucket/uploads/b.png"));
    expect([other.reason, other.message]).toEqual(["InputForbidden", "bucket other-bucket is not one inputs may be read from (INPUT_BUCKETS)"]);
    const listed = fetcher({ inputBuckets: ["other-bucket"] });
    expect((await failure(listed.fetch(`s3://${s3.bucket}/${prefix}/uploads/team-a/b.png`))).reason).toBe("InputForbidden");
    // Listed, the bucket is read (it does not exist on the S3 server: not found, not forbidden).
    expect((await failure(listed.fetch("s3://other-bucket/uploads/b.png"))).reason).not.toBe("InputForbidden");
    expect((await fetcher({ inputBuckets: [s3.bucket] }).fetch(`s3://${s3.bucket}/${prefix}/uploads/team-a/b.png`)).length).toBe(10);
  });

  it("reads s3:// inputs only from buckets granted to the job's namespace, when the job names its grants", async () => {
    const { s3 } = testEnv();
    await store.put("uploads/team-a/g.png", randomBytes(11));
    await store.put("inputs/g.png", randomBytes(13));
    const inputs = new InputFetcher({ store, bucketStore: buckets.for, maxBytes: MAX, timeoutMs: 5000, inputBuckets: [s3.bucket, "granted-to-b"] });
    // granted-to-b does not exist on the S3 server: a read fails otherwise, so Forbidden means nothing was read.
    const refused = await failure(inputs.fetch({ uri: "s3://granted-to-b/x.png", namespace: NS, inputBuckets: [] }));
    expect([refused.reason, refused.message]).toEqual(["InputForbidden", "bucket granted-to-b is not granted to namespace team-a (annotation pixelmill.io/input-buckets on the Namespace)"]);
    expect((await failure(inputs.fetch({ uri: "s3://granted-to-b/x.png", namespace: NS, inputBuckets: ["granted-to-b"] }))).reason).not.toBe("InputForbidden");
    // The store's bucket outside the platform's areas: only where granted; the namespace's own uploads always.
    expect((await failure(inputs.fetch({ uri: `s3://${s3.bucket}/${prefix}/inputs/g.png`, namespace: NS, inputBuckets: ["granted-to-b"] }))).reason).toBe("InputForbidden");
    expect((await inputs.fetch({ uri: `s3://${s3.bucket}/${prefix}/inputs/g.png`, namespace: NS, inputBuckets: [s3.bucket] })).length).toBe(13);
    expect((await inputs.fetch({ uri: `s3://${s3.bucket}/${prefix}/uploads/team-a/g.png`, namespace: NS, inputBuckets: [] })).length).toBe(11);
    // Without grants (a job from an older operator), INPUT_BUCKETS alone decides.
    expect((await inputs.fetch({ uri: `s3://${s3.bucket}/${prefix}/inputs/g.png`, namespace: NS })).length).toBe(13);
  });

  it("reads of the platform's store only the job namespace's uploads and outputs: others are InputForbidden", async () => {
    const { s3 } = testEnv();
    await store.put("uploads/team-b/secret.png", randomBytes(10));
    await store.put("outputs/team-b/job-1/uid-1.png", randomBytes(10));
    await store.put("outputs/team-a/job-2/uid-1.png", randomBytes(12));
    for (const uri of ["upload:uploads/team-b/secret.png", `s3://${s3.bucket}/${prefix}/uploads/team-b/secret.png`, `s3://${s3.bucket}/${prefix}/outputs/team-b/job-1/uid-1.png`]) {
      const f = await failure(fetcher().fetch(uri));
      expect([f.reason, f.message], uri).toEqual(["InputForbidden", expect.stringMatching(/namespace team-a/) as string]);
    }
    expect((await fetcher().fetch(`s3://${s3.bucket}/${prefix}/outputs/team-a/job-2/uid-1.png`)).length).toBe(12);
    expect((await fetcher().fetch("upload:uploads/team-b/secret.png", undefined, "team-b")).length).toBe(10);
  });

  it("takes INPUT_BUCKETS from the configuration, else STORAGE_URL's bucket when it is s3://", () => {
    expect(inputBuckets(loadConfig({ STORAGE_URL: "s3://media-bucket/pixelmill" }))).toEqual(["media-bucket"]);
    expect(inputBuckets(loadConfig({ STORAGE_URL: "file:///tmp/x" }))).toEqual([]);
    expect(inputBuckets(loadConfig({ STORAGE_URL: "s3://media-bucket", INPUT_BUCKETS: " a-bucket, b.bucket ,," }))).toEqual(["a-bucket", "b.bucket"]);
  });

  it("refuses an object over FETCH_MAX_BYTES with InputTooLarge", async () => {
    await store.put("uploads/team-a/big.bin", randomBytes(MAX + 1));
    expect((await failure(fetcher().fetch("upload:uploads/team-a/big.bin"))).reason).toBe("InputTooLarge");
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

describe("https inputs and the address policy (SSRF)", () => {
  // 127.0.0.2 plays a public address; every other address is judged as in production.
  const lenient: AddressPolicy = { refuse: (a) => (a === "127.0.0.2" ? undefined : PUBLIC_ONLY.refuse(a)) };
  // The serving certificate names localhost: pretend DNS says it is the "public" 127.0.0.2.
  const dns: Record<string, string[]> = { localhost: ["127.0.0.2"], "internal.test": ["10.0.0.7"], "mixed.test": ["127.0.0.2", "10.1.2.3"], "meta.test": ["169.254.169.254"] };
  const resolve: Resolve = (host) => Promise.resolve((dns[host] ?? []).map((address) => ({ address, family: 4 })));
  const strict = (): Fetch => fetcher({ addressPolicy: null, resolve });
  const publicUrl = (path: string): string => `https://localhost:${publicPort}${path}`;

  it("refuses by default hosts given as loopback, private, link-local or mapped literals, naming host and kind", async () => {
    for (const [uri, why] of [
      [`${base}/image`, "loopback"], ["https://169.254.169.254/latest/meta-data/", "link-local"], ["https://10.0.0.1/x.png", "private"],
      ["https://[::1]/x.png", "loopback"], ["https://[::ffff:127.0.0.1]/x.png", "loopback"], ["https://0.0.0.0/x.png", "unspecified"],
      ["https://100.64.0.1/x.png", "shared (CGNAT)"], ["https://[fe80::1]/x.png", "link-local"],
    ] as const) {
      const f = await failure(strict().fetch(uri));
      expect(f.reason, uri).toBe("InputForbidden");
      expect(f.message, uri).toBe(`${new URL(uri).host} is a ${why} address; inputs are fetched only from public addresses`);
    }
  });

  it("refuses a host when any address it resolves to is private, without listing them", async () => {
    for (const [host, why] of [["internal.test", "private"], ["mixed.test", "private"], ["meta.test", "link-local"]]) {
      const f = await failure(fetcher({ addressPolicy: lenient, resolve }).fetch(`https://${host}/x.png`));
      expect([f.reason, f.message]).toEqual(["InputForbidden", `${host} resolves to a ${why} address; inputs are fetched only from public addresses`]);
      expect(f.message).not.toMatch(/10\.|169\.254/);
    }
    expect((await failure(fetcher({ addressPolicy: lenient, resolve }).fetch("https://nowhere.test/x.png"))).reason).toBe("InputNotFound");
  });

  it("holds DNS to FETCH_TIMEOUT_MS too", async () => {
    const hung: Resolve = () => new Promise(() => {});
    const f = await failure(fetcher({ addressPolicy: lenient, resolve: hung, timeoutMs: 200 }).fetch("https://slow-dns.test/x.png"));
    expect([f.reason, f.message]).toEqual(["StorageError", "fetching the input took longer than 200 ms (FETCH_TIMEOUT_MS)"]);
  });

  it("connects to the address it checked, not to what the system's DNS says", async () => {
    // The system resolves localhost to 127.0.0.1, where nothing listens on publicPort.
    expect((await fetcher({ addressPolicy: lenient, resolve }).fetch(publicUrl("/image"))).equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it("checks every redirect hop: an allowed first hop cannot redirect to loopback, metadata or private hosts", async () => {
    const f = (to: string) => failure(fetcher({ addressPolicy: lenient, resolve }).fetch(publicUrl(`/redirect-to?to=${encodeURIComponent(to)}`)));
    for (const [to, host, what] of [
      [`${base}/image`, new URL(base).host, "is a loopback"],
      ["https://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254", "is a link-local"],
      ["https://internal.test/secret", "internal.test", "resolves to a private"],
      ["https://[::ffff:a9fe:a9fe]/", "[::ffff:a9fe:a9fe]", "is a link-local"],
    ] as const) {
      const failed = await f(to);
      expect([failed.reason, failed.message], to).toEqual(["InputForbidden", `${host} ${what} address; inputs are fetched only from public addresses`]);
    }
    // The same redirect to a "public" host is followed.
    expect((await fetcher({ addressPolicy: lenient, resolve }).fetch(publicUrl(`/redirect-to?to=${encodeURIComponent(publicUrl("/image"))}`))).length).toBe(1000);
  });

  const ending = "; inputs are fetched only from public addresses";
  const zoned = `fe80::1%eth0 is an IPv6 address with a zone id, which names a local network interface${ending}`;

  it("judges every IPv6 form that carries an IPv4 address by it: IPv4-translated loopback, literal or resolved", async () => {
    for (const [uri, host, why] of [
      ["https://[::ffff:0:127.0.0.1]/x.png", "[::ffff:0:7f00:1]", "loopback"], ["https://[::ffff:0:a9fe:a9fe]/x.png", "[::ffff:0:a9fe:a9fe]", "link-local"],
      ["https://[::127.0.0.1]/x.png", "[::7f00:1]", "loopback"], ["https://[64:ff9b::169.254.169.254]/x.png", "[64:ff9b::a9fe:a9fe]", "link-local"],
      ["https://[2002:a00:1::]/x.png", "[2002:a00:1::]", "private"], ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x.png", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "reserved"],
    ] as const) {
      const f = await failure(strict().fetch(uri));
      expect([f.reason, f.message], uri).toEqual(["InputForbidden", `${host} is a ${why} address${ending}`]);
    }
    const translated: Resolve = () => Promise.resolve([{ address: "::ffff:0:127.0.0.1", family: 6 }]);
    const f = await failure(fetcher({ addressPolicy: null, resolve: translated, timeoutMs: 1000 }).fetch("https://sneaky.test/x.png"));
    expect([f.reason, f.message]).toEqual(["InputForbidden", `sneaky.test resolves to a loopback address${ending}`]);
  });

  it("refuses a host with a zone id at once (InputForbidden), by any policy", async () => {
    for (const policy of [null, ANY_ADDRESS]) {
      const f = await failure(fetcher({ addressPolicy: policy, timeoutMs: 1000 }).fetch("https://[fe80::1%25eth0]/x.png"));
      expect([f.reason, f.message]).toEqual(["InputForbidden", zoned]);
    }
  });

  it("refuses a redirect to a host with a zone id, or to an IPv4-translated loopback, at once", async () => {
    const f = (to: string) => failure(fetcher({ addressPolicy: lenient, resolve, timeoutMs: 1000 }).fetch(publicUrl(`/redirect-to?to=${encodeURIComponent(to)}`)));
    for (const to of ["https://[fe80::1%25eth0]/x.png", "//[fe80::1%25eth0]/x.png"]) {
      expect(await f(to).then((e) => [e.reason, e.message]), to).toEqual(["InputForbidden", zoned]);
    }
    const port = new URL(base).port;
    expect(await f(`https://[::ffff:0:127.0.0.1]:${port}/image`).then((e) => [e.reason, e.message]))
      .toEqual(["InputForbidden", `[::ffff:0:7f00:1]:${port} is a loopback address${ending}`]);
    // A Location that is no URL at all is not found there, not retried.
    expect(await f("https://[::1/x").then((e) => e.reason)).toBe("InputNotFound");
  });
});
