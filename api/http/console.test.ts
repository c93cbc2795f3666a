import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { createApp, type AppDeps } from "../app.js";
import { JobEvents } from "../domain/job-events.js";
import { FileObjectStore } from "../../common/storage/index.js";

// The console's routes take no key and touch no dependency: an app over nothing else serves them.
let root: string;
const servers: Server[] = [];

async function serve(consoleDir: string): Promise<string> {
  const app = createApp({ log: createLogger({ level: "silent" }), publicUrl: "http://api.test", events: new JobEvents(), store: new FileObjectStore(join(root, "store")), consoleDir } as unknown as AppDeps);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const INDEX = "<!doctype html><title>Pixelmill</title><div id=root></div><script type=module src=/assets/index-3f2a9c1b.js></script>";
const SCRIPT = "console.log('console');";
const page = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
let url: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "console-test-"));
  await mkdir(join(root, "dist", "assets"), { recursive: true });
  await writeFile(join(root, "dist", "index.html"), INDEX);
  await writeFile(join(root, "dist", "assets", "index-3f2a9c1b.js"), SCRIPT);
  await writeFile(join(root, "secret.txt"), "outside the console");
  await mkdir(join(root, "empty"));
  url = await serve(join(root, "dist"));
});
afterAll(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  await rm(root, { recursive: true, force: true });
});

function expectConsoleHeaders(res: Response): void {
  const csp = res.headers.get("content-security-policy")!;
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("img-src 'self' blob: data:");
  expect(csp).toContain("connect-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("unsafe");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
}

describe("the web console", () => {
  it("serves index.html at / with no-cache and the security headers", async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expectConsoleHeaders(res);
    expect(await res.text()).toBe(INDEX);
  });

  it("serves hashed assets as immutable for a year", async () => {
    const res = await fetch(`${url}/assets/index-3f2a9c1b.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expectConsoleHeaders(res);
    expect(await res.text()).toBe(SCRIPT);
  });

  it("answers a page path of the console (History API) with index.html, only for a page load", async () => {
    for (const path of ["/jobs/abc", "/admin/pools", "/sign-in"]) {
      const res = await fetch(`${url}${path}`, { headers: page });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expectConsoleHeaders(res);
      expect(await res.text()).toBe(INDEX);
    }
    const head = await fetch(`${url}/jobs/abc`, { method: "HEAD", headers: page });
    expect(head.status).toBe(200);
    // A fetch of data (or a script) that does not name text/html is not a page.
    const data = await fetch(`${url}/jobs/abc`, { headers: { accept: "application/json" } });
    expect(data.status).toBe(404);
    const post = await fetch(`${url}/jobs/abc`, { method: "POST", headers: page });
    expect(post.status).toBe(404);
  });

  it("leaves the API's paths to the API: unknown ones stay JSON problems, without the console's headers", async () => {
    for (const path of ["/v1/unknown", "/v1", "/healthz", "/assets/missing-0000.js"]) {
      const res = await fetch(`${url}${path}`, { headers: page });
      if (path === "/healthz") {
        expect(res.status).toBe(200);
        expect(res.headers.get("content-security-policy")).toBeNull();
        continue;
      }
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type"), path).toMatch(/^application\/problem\+json/);
    }
    const api = await fetch(`${url}/v1/unknown`, { headers: page });
    expect(api.headers.get("content-security-policy")).toBeNull();
    expect(await api.json()).toMatchObject({ status: 404, type: "https://pixelmill.io/problems/not-found" });
  });

  it("refuses paths that climb out of the console's folder", async () => {
    for (const path of ["/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/assets/..%5c..%5csecret.txt"]) {
      const res = await fetch(`${url}${path}`);
      const body = await res.text();
      expect(body, path).not.toContain("outside the console");
      expect(res.status, path).toBe(404);
    }
  });

  it("says the console is not built when its folder has no index.html", async () => {
    const bare = await serve(join(root, "empty"));
    for (const path of ["/", "/jobs/abc"]) {
      const res = await fetch(`${bare}${path}`, { headers: page });
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { detail: string }).detail).toBe("the web console is not built: run npm run build");
    }
    expect((await fetch(`${bare}/v1/unknown`)).status).toBe(404);
  });
});
