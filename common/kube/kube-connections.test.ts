import { channel } from "node:diagnostics_channel";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { kubeConfig, testEnv } from "../../test/support/env.js";
import { shareConnections } from "./kube-connections.js";

/** New connections undici opens (its diagnostics channel), while `fn` runs. */
async function connectionsDuring(fn: () => Promise<unknown>): Promise<number> {
  let opened = 0;
  const count = () => void (opened += 1);
  const connected = channel("undici:client:connected");
  connected.subscribe(count);
  try {
    await fn();
  } finally {
    connected.unsubscribe(count);
  }
  return opened;
}

const lists = (core: CoreV1Api, n: number) => async () => {
  for (let i = 0; i < n; i++) await core.listNamespace({ limit: 1 });
};

describe("shareConnections", () => {
  let warm: CoreV1Api;
  beforeAll(async () => {
    warm = shareConnections(kubeConfig()).makeApiClient(CoreV1Api);
    await warm.listNamespace({ limit: 1 });
  });

  it("sends a kubeconfig's requests over one kept connection", async () => {
    expect(await connectionsDuring(lists(warm, 10))).toBe(0);
  });

  it("where the library alone opens one per request", async () => {
    // The test above could not fail if undici stopped reporting connections: this one shows it does.
    const plain = new KubeConfig();
    plain.loadFromFile(testEnv().kubeconfigPath);
    expect(await connectionsDuring(lists(plain.makeApiClient(CoreV1Api), 10))).toBe(10);
  });
});
