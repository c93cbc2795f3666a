import { afterEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import type { KubernetesObject } from "@kubernetes/client-node";
import { CacheInformer, errorMessage } from "./informer.js";
import { FakeClock, FakeSource, until } from "../../test/support/list-watch-fakes.js";

const obj = (name: string, rv: number, namespace?: string): KubernetesObject => ({ metadata: { name, namespace, resourceVersion: String(rv) } });
const names = (objs: readonly KubernetesObject[]) => objs.map((o) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort();

let informer: CacheInformer<KubernetesObject> | undefined;
afterEach(async () => informer?.stop().catch(() => {}));

function start(throwOn?: string) {
  const source = new FakeSource<KubernetesObject>();
  const clock = new FakeClock();
  const seen: string[] = [];
  const logged: string[] = [];
  const log = pino({ level: "error" }, { write: (line: string) => void logged.push(line) });
  const record = (what: string) => (o: KubernetesObject) => {
    seen.push(`${what} ${names([o])[0]}`);
    if (o.metadata?.name === throwOn) throw new Error(`handler bug on ${throwOn}`);
  };
  informer = new CacheInformer(source, { onChange: record("change"), onDelete: record("delete") }, { log, clock });
  return { source, clock, seen, logged, informer };
}

describe("CacheInformer", () => {
  it("resolves start() once the first list filled the cache, namespaced and cluster-scoped alike", async () => {
    const { source, seen, informer } = start();
    source.lists.push({ items: [obj("a", 1, "ns1"), obj("b", 2, "ns2"), obj("node", 3)], resourceVersion: "10" });
    await informer.start();
    expect(informer.get("ns1", "a")?.metadata?.resourceVersion).toBe("1");
    expect(informer.get("", "node")?.metadata?.name).toBe("node");
    expect(informer.get("ns2", "a")).toBeUndefined();
    expect(names(informer.list())).toEqual(["/node@3", "ns1/a@1", "ns2/b@2"]);
    expect(names(informer.list("ns2"))).toEqual(["ns2/b@2"]);
    expect(seen.sort()).toEqual(["change /node@3", "change ns1/a@1", "change ns2/b@2"]);
    await until(() => source.watches.length === 1);
    expect(source.last.resourceVersion).toBe("10");
  });

  it("applies ADDED, MODIFIED and DELETED to the cache before telling the handlers", async () => {
    const { source, seen, informer } = start();
    source.lists.push({ items: [obj("a", 1, "ns")], resourceVersion: "10" });
    await informer.start();
    await until(() => source.watches.length === 1);
    seen.length = 0;
    source.last.send({ type: "ADDED", object: obj("b", 11, "ns") });
    source.last.send({ type: "MODIFIED", object: obj("a", 12, "ns") });
    source.last.send({ type: "DELETED", object: obj("b", 13, "ns") });
    source.last.send({ type: "DELETED", object: obj("never-seen", 14, "ns") });
    await until(() => seen.length === 3);
    expect(seen).toEqual(["change ns/b@11", "change ns/a@12", "delete ns/b@13"]);
    expect(names(informer.list())).toEqual(["ns/a@12"]);
    expect(informer.get("ns", "b")).toBeUndefined();
  });

  it("replaces the cache on a relist after 410 Gone, deleting what vanished meanwhile", async () => {
    const { source, seen, informer } = start();
    source.lists.push(
      { items: [obj("a", 1, "ns"), obj("b", 2, "ns"), obj("c", 3, "other")], resourceVersion: "10" },
      { items: [obj("a", 1, "ns"), obj("d", 20, "ns")], resourceVersion: "30" },
    );
    await informer.start();
    await until(() => source.watches.length === 1);
    seen.length = 0;
    source.last.send({ type: "ERROR", object: { code: 410, message: "too old resource version" } });
    await until(() => source.watches.length === 2);
    expect(source.last.resourceVersion).toBe("30");
    expect(seen.filter((s) => s.startsWith("delete")).sort()).toEqual(["delete ns/b@2", "delete other/c@3"]);
    expect(seen.filter((s) => s.startsWith("change")).sort()).toEqual(["change ns/a@1", "change ns/d@20"]);
    expect(names(informer.list())).toEqual(["ns/a@1", "ns/d@20"]);
    expect(informer.list("other")).toEqual([]);
  });

  it("logs a throwing handler and goes on with the next events", async () => {
    const { source, seen, logged, informer } = start("bad");
    source.lists.push({ items: [obj("bad", 1, "ns")], resourceVersion: "10" });
    await informer.start();
    await until(() => source.watches.length === 1);
    source.last.send({ type: "MODIFIED", object: obj("bad", 11, "ns") });
    source.last.send({ type: "ADDED", object: obj("good", 12, "ns") });
    await until(() => seen.includes("change ns/good@12"));
    expect(informer.get("ns", "bad")?.metadata?.resourceVersion).toBe("11");
    expect(logged.length).toBe(2);
    expect(logged[0]).toContain("handler bug on bad");
    source.last.end(); // the server's timeout: the next watch resumes after the handled events
    await until(() => source.watches.length === 2);
    expect(source.last.resourceVersion).toBe("12");
  });

  it("keeps trying the first list, and a stop before it succeeds ends the wait", async () => {
    const { source, clock, informer } = start();
    source.lists.push(new Error("connection refused"));
    const started = informer.start();
    await until(() => clock.timers.length === 1);
    await informer.stop();
    await expect(started).rejects.toThrow(/stopped before its first list/);
    expect(source.watches).toEqual([]);
  });
});

describe("errorMessage", () => {
  it("gives the apiserver's words for an API error and the message otherwise", () => {
    const body = JSON.stringify({ kind: "Status", message: 'imagejobs "x" not found', code: 404 });
    expect(errorMessage(Object.assign(new Error("HTTP-Code: 404"), { code: 404, body }))).toBe('HTTP 404: imagejobs "x" not found');
    expect(errorMessage(Object.assign(new Error("Gone"), { statusCode: 410 }))).toBe("HTTP 410: Gone");
    expect(errorMessage(Object.assign(new Error("boom"), { code: 500, body: "<html>" }))).toBe("HTTP 500: <html>");
    expect(errorMessage(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe("connect ECONNREFUSED");
    expect(errorMessage("plain")).toBe("plain");
  });
});
