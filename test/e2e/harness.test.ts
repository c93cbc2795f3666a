import { afterAll, expect, it } from "vitest";
import { CoreV1Api, VersionApi } from "@kubernetes/client-node";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";

const core = kubeConfig().makeApiClient(CoreV1Api);
const namespace = uniqueName("harness");
afterAll(() => core.deleteNamespace({ name: namespace }));

it("talks to a real kube-apiserver and names its version", async () => {
  const version = await kubeConfig().makeApiClient(VersionApi).getCode();
  console.log(`kube-apiserver ${version.gitVersion} (${version.platform}, ${version.goVersion})`);
  expect(version.gitVersion).toBe(testEnv().apiserverVersion);
  expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
});

it("stores objects in etcd and lists them back", async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "probe" }, data: { k: "v" } } });
  const list = await core.listNamespacedConfigMap({ namespace });
  expect(list.items.find((c) => c.metadata?.name === "probe")?.data).toEqual({ k: "v" });
});
