import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { ListWatch, type ObjectEventType } from "./list-watch.js";
import { FakeClock, FakeSource, until } from "../../test/support/list-watch-fakes.js";

type Obj = { metadata: { name: string; resourceVersion: string } };
const obj = (name: string, rv: number): Obj => ({ metadata: { name, resourceVersion: String(rv) } });

const log = createLogger({ level: "silent" });
let loop: ListWatch<Obj> | undefined;
afterEach(async () => loop?.stop());

function start(handler?: (type: ObjectEventType, o: Obj) => Promise<void>) {
  const source = new FakeSource<Obj>();
  const clock = new FakeClock();
  const seen: string[] = [];
  loop = new ListWatch<Obj>(source, {
    synced: (items, rv) => {
      seen.push(`list@${rv}:${items.map((i) => i.metadata.name).join(",")}`);
      return Promise.resolve();
    },
    changed: async (type, o) => {
      await handler?.(type, o);
      seen.push(`${type} ${o.metadata.name}@${o.metadata.resourceVersion}`);
    },
  }, { log, clock, baseDelayMs: 200, maxDelayMs: 1000 });
  return { source, clock, seen, loop };
}

describe("ListWatch", () => {
  it("lists, then watches from the list's resourceVersion, handling events in order", async () => {
    const { source, seen, loop } = start();
    source.lists.push({ items: [obj("a", 5)], resourceVersion: "10" });
    loop.start();
    await until(() => source.watches.length === 1);
    expect(loop.synced).toBe(true);
    expect(source.last.resourceVersion).toBe("10");
    source.last.send({ type: "ADDED", object: obj("b", 11) });
    source.last.send({ type: "MODIFIED", object: obj("b", 12) });
    source.last.send({ type: "BOOKMARK", object: obj("", 15) });
    source.last.end(); // the server's timeout: watch again from where we were
    await until(() => source.watches.length === 2);
    expect(source.last.resourceVersion).toBe("15");
    expect(seen).toEqual(["list@10:a", "ADDED b@11", "MODIFIED b@12"]);
  });

  it("relists after 410 Gone, as an ERROR event or as the watch's HTTP status", async () => {
    const { source, clock, seen, loop } = start();
    source.lists.push({ items: [], resourceVersion: "10" }, { items: [obj("c", 30)], resourceVersion: "31" }, { items: [], resourceVersion: "40" });
    loop.start();
    await until(() => source.watches.length === 1);
    source.last.send({ type: "ERROR", object: { code: 410, message: "too old resource version" } });
    await until(() => source.watches.length === 2);
    expect(source.watches[0]!.aborted).toBe(true);
    expect(source.last.resourceVersion).toBe("31");
    source.watchFailures.push(Object.assign(new Error("Gone"), { statusCode: 410 }));
    clock.time += 60_000; // a watch that ran a while before the server ended it
    source.last.end();
    await until(() => source.watches.length === 3);
    expect(source.last.resourceVersion).toBe("40");
    expect(seen).toEqual(["list@10:", "list@31:c", "list@40:"]);
  });

  it("restarts after errors with exponential backoff, resuming from the last resourceVersion", async () => {
    const { source, clock, loop } = start();
    source.lists.push(new Error("connection refused"), { items: [], resourceVersion: "10" });
    loop.start();
    await until(() => clock.timers.length === 1);
    expect(clock.timers[0]!.ms).toBe(200);
    clock.fire();
    await until(() => source.watches.length === 1);
    source.last.send({ type: "ADDED", object: obj("d", 11) });
    source.watchFailures.push(new Error("ECONNRESET"), new Error("ECONNRESET"), new Error("ECONNRESET"));
    source.last.end(new Error("socket hang up"));
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await until(() => clock.timers.length === 1);
      delays.push(clock.timers[0]!.ms);
      clock.fire();
    }
    await until(() => source.watches.length === 2);
    expect(delays).toEqual([400, 800, 1000, 1000]);
    expect(source.last.resourceVersion).toBe("11");
  });

  it("gets an event again when its handler failed", async () => {
    let failOnce = true;
    const { source, clock, seen, loop } = start((_, o) => {
      if (o.metadata.name === "e" && failOnce) {
        failOnce = false;
        return Promise.reject(new Error("database unavailable"));
      }
      return Promise.resolve();
    });
    source.lists.push({ items: [], resourceVersion: "10" });
    loop.start();
    await until(() => source.watches.length === 1);
    source.last.send({ type: "ADDED", object: obj("x", 11) });
    source.last.send({ type: "ADDED", object: obj("e", 12) });
    source.last.send({ type: "ADDED", object: obj("y", 13) }); // dropped: after the failure
    await until(() => clock.timers.length === 1);
    clock.fire();
    await until(() => source.watches.length === 2);
    expect(source.last.resourceVersion).toBe("11");
    expect(seen).toEqual(["list@10:", "ADDED x@11"]);
  });

  it("with a batch handler, hands over together the events that came while it was busy, in order, moving past them only once handled", async () => {
    const source = new FakeSource<Obj>();
    const clock = new FakeClock();
    const batches: string[][] = [];
    let release: (() => void) | undefined;
    let failNext = false;
    loop = new ListWatch<Obj>(source, {
      synced: () => Promise.resolve(),
      changed: () => Promise.reject(new Error("changed must not be called when changedBatch is given")),
      changedBatch: async (events) => {
        batches.push(events.map((e) => `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`));
        if (batches.length === 1) await new Promise<void>((r) => (release = r)); // busy while more arrive
        if (failNext) throw new Error("database unavailable");
      },
    }, { log, clock, baseDelayMs: 200, maxDelayMs: 1000 });
    source.lists.push({ items: [], resourceVersion: "10" });
    loop.start();
    await until(() => source.watches.length === 1);
    source.last.send({ type: "ADDED", object: obj("a", 11) });
    await until(() => release !== undefined);
    source.last.send({ type: "MODIFIED", object: obj("a", 12) });
    source.last.send({ type: "ADDED", object: obj("b", 13) });
    source.last.send({ type: "BOOKMARK", object: obj("", 14) });
    source.last.send({ type: "DELETED", object: obj("a", 15) });
    release!();
    await until(() => batches.length === 3);
    expect(batches).toEqual([["ADDED a@11"], ["MODIFIED a@12", "ADDED b@13"], ["DELETED a@15"]]);
    // A failed batch is not passed: the watch starts again from before it.
    failNext = true;
    source.last.send({ type: "ADDED", object: obj("c", 16) });
    source.last.send({ type: "ADDED", object: obj("d", 17) });
    await until(() => clock.timers.length === 1);
    clock.fire();
    await until(() => source.watches.length === 2);
    expect(source.last.resourceVersion).toBe("15");
  });

  it("backs off when the server ends watches at once, again and again", async () => {
    const { source, clock, loop } = start();
    loop.start();
    await until(() => source.watches.length === 1);
    source.last.end();
    await until(() => clock.timers.length === 1);
    expect(source.watches.length).toBe(1);
    clock.fire();
    await until(() => source.watches.length === 2);
  });

  it("stops while waiting to retry", async () => {
    const { source, clock, loop } = start();
    source.lists.push(new Error("down"));
    loop.start();
    await until(() => clock.timers.length === 1);
    await loop.stop();
    expect(source.watches).toEqual([]);
  });
});
