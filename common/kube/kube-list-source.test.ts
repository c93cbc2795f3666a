import { afterEach, describe, expect, it, vi } from "vitest";
import { KubeConfig, Watch } from "@kubernetes/client-node";
import { KubeListSource } from "./kube-list-source.js";

type Done = (err: unknown) => void;

/** client-node's Watch, answering with `end` through its done callback. */
function stubWatch(end: (done: Done) => void) {
  const calls: Array<{ path: string; query: Record<string, unknown> }> = [];
  vi.spyOn(Watch.prototype, "watch").mockImplementation((path, query, _cb, done) => {
    calls.push({ path, query });
    end(done);
    return Promise.resolve(new AbortController());
  });
  return calls;
}

afterEach(() => vi.restoreAllMocks());

describe("KubeListSource", () => {
  const source = () => new KubeListSource(new KubeConfig(), "/api/v1/pods", () => Promise.resolve({ items: [1, 2], metadata: { resourceVersion: "7" } }), { labelSelector: "app=x" });

  it("lists through the given call and watches the path with the selector, from the version asked", async () => {
    const calls = stubWatch((done) => done(null));
    expect(await source().list()).toEqual({ items: [1, 2], resourceVersion: "7" });
    await (await source().watch("7", () => {})).done;
    expect(calls).toEqual([{ path: "/api/v1/pods", query: { resourceVersion: "7", allowWatchBookmarks: true, timeoutSeconds: 300, labelSelector: "app=x" } }]);
  });

  it("ends a watch client-node gave up on for silence like one the server closed", async () => {
    stubWatch((done) => done(new DOMException("The operation was aborted due to timeout", "TimeoutError")));
    await expect((await source().watch("7", () => {})).done).resolves.toBeUndefined();
  });

  it("fails the watch on any other error, keeping its HTTP status for the loop", async () => {
    stubWatch((done) => done(Object.assign(new Error("Gone"), { statusCode: 410 })));
    await expect((await source().watch("7", () => {})).done).rejects.toMatchObject({ statusCode: 410 });
  });
});
