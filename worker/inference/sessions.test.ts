import { describe, expect, it } from "vitest";
import type { ExecutionProvider, SessionBackend } from "./model-session.js";
import { SessionCache, type SessionFactory } from "./sessions.js";
import { captureLog } from "../../test/support/inference.js";

/** Stand-in native sessions (pure cache logic): they record when they are released. */
function factory(failing: ExecutionProvider[] = []) {
  const created: string[] = [];
  const released: string[] = [];
  const create: SessionFactory = (path, ep) => {
    if (failing.includes(ep)) return Promise.reject(new Error(`${ep} is not here`));
    created.push(`${path}:${ep}`);
    const fake = { inputMetadata: [], outputNames: [], run: () => Promise.resolve({}), release: () => Promise.resolve(void released.push(path)) };
    return Promise.resolve(fake as SessionBackend);
  };
  return { create, created, released };
}

const file = (path: string) => (): Promise<string> => Promise.resolve(path);

describe("SessionCache", () => {
  it("loads once for concurrent users of one version", async () => {
    const f = factory();
    const cache = new SessionCache({ executionProviders: ["cpu"], log: captureLog().log, create: f.create });
    await Promise.all([1, 2, 3].map(() => cache.use("m", "1", file("m1"), (s) => s.run({}))));
    expect(f.created).toEqual(["m1:cpu"]);
  });

  it("keeps two versions of a model, and releases an older one only after its last user", async () => {
    const f = factory();
    const cache = new SessionCache({ executionProviders: ["cpu"], log: captureLog().log, create: f.create });
    await cache.use("m", "1", file("m1"), () => Promise.resolve());
    let finish!: () => void;
    const holding = cache.use("m", "2", file("m2"), () => new Promise<void>((resolve) => (finish = resolve)));
    await new Promise((resolve) => setImmediate(resolve));
    await cache.use("m", "3", file("m3"), () => Promise.resolve());
    await cache.use("m", "4", file("m4"), () => Promise.resolve());
    await new Promise((resolve) => setImmediate(resolve));
    expect(f.released).toEqual(["m1"]);
    finish();
    await holding;
    await new Promise((resolve) => setImmediate(resolve));
    expect(f.released).toEqual(["m1", "m2"]);
    await cache.close();
    expect(f.released.sort()).toEqual(["m1", "m2", "m3", "m4"]);
  });

  it("skips a provider that failed once, after another one worked", async () => {
    const f = factory(["cuda"]);
    const { log, lines } = captureLog();
    const cache = new SessionCache({ executionProviders: ["cuda", "cpu"], log, create: f.create });
    await cache.use("a", "1", file("a"), (s) => Promise.resolve(expect(s.ep).toBe("cpu")));
    await cache.use("b", "1", file("b"), () => Promise.resolve());
    expect(lines.filter((l) => l.msg === "Execution provider unavailable, falling back").map((l) => [l.model, l.ep])).toEqual([["a", "cuda"]]);
    await cache.close();
  });

  it("fails with ModelUnavailable when no provider loads the model, and tries again next time", async () => {
    const f = factory(["webgpu", "cpu"]);
    let tries = 0;
    const create: SessionFactory = (path, ep) => (tries++, f.create(path, ep));
    const cache = new SessionCache({ executionProviders: ["webgpu", "cpu"], log: captureLog().log, create });
    const attempt = () => cache.use("m", "1", file("m"), () => Promise.resolve());
    await expect(attempt()).rejects.toMatchObject({ reason: "ModelUnavailable", message: "no execution provider (webgpu, cpu) could load the model: cpu is not here" });
    await expect(attempt()).rejects.toMatchObject({ reason: "ModelUnavailable" });
    expect(tries).toBe(4);
    await cache.close();
  });

  it("runs one at a time across the models of a cache, as when runs held the JS thread", async () => {
    let running = 0;
    let most = 0;
    const create: SessionFactory = () => {
      const run = async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return {};
      };
      return Promise.resolve({ inputMetadata: [], outputNames: [], run, release: () => Promise.resolve() } satisfies SessionBackend);
    };
    const cache = new SessionCache({ executionProviders: ["cpu"], log: captureLog().log, create });
    await Promise.all(["a", "b", "c", "a", "b"].map((m) => cache.use(m, "1", file(m), (s) => Promise.all([s.run({}), s.run({})]))));
    expect(most).toBe(1);
    await cache.close();
  });
});
