import { describe, expect, it } from "vitest";
import { CoreV1Api, CustomObjectsApi, Watch } from "@kubernetes/client-node";
import { kubeConfig, uniqueName } from "../../test/support/env.js";
import { sample } from "../../test/support/metrics.js";
import { Registry } from "../metrics.js";
import { instrumentKubeConfig, kubeVerb } from "./kube-metrics.js";

describe("kubeVerb", () => {
  it.each([
    ["GET", "/api/v1/namespaces", "list"],
    ["GET", "/api/v1/namespaces/team-a", "get"],
    ["GET", "/api/v1/namespaces/team-a/status", "get"],
    ["PUT", "/api/v1/namespaces/team-a/finalize", "update"],
    ["GET", "/api/v1/namespaces/team-a/pods", "list"],
    ["GET", "/api/v1/namespaces/team-a/pods?labelSelector=app%3Dworker&limit=500", "list"],
    ["GET", "/api/v1/namespaces/team-a/pods/worker-0", "get"],
    ["GET", "/api/v1/namespaces/team-a/pods/worker-0/log", "get"],
    ["GET", "/api/v1/pods", "list"],
    ["GET", "/apis/pixelmill.io/v1alpha1/imagejobs?watch=true&resourceVersion=12", "watch"],
    ["GET", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs?allowWatchBookmarks=true&watch=1", "watch"],
    ["GET", "/api/v1/watch/namespaces/team-a/pods", "watch"],
    ["GET", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs?watchers=true", "list"],
    ["GET", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs/job-x", "get"],
    ["POST", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs", "create"],
    ["PUT", "/apis/coordination.k8s.io/v1/namespaces/pm/leases/pixelmill-operator", "update"],
    ["PATCH", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs/job-x/status", "patch"],
    ["patch", "/apis/apps/v1/namespaces/team-a/deployments/pool-a", "patch"],
    ["DELETE", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs/job-x", "delete"],
    ["DELETE", "/apis/pixelmill.io/v1alpha1/namespaces/team-a/imagejobs", "deletecollection"],
    ["DELETE", "/api/v1/namespaces/team-a", "delete"],
    ["GET", "/version", "get"],
    ["GET", "/apis/pixelmill.io/v1alpha1", "get"],
    ["GET", "/api", "get"],
    ["OPTIONS", "/api/v1/pods", "other"],
  ])("%s %s is %s", (method, path, verb) => {
    expect(kubeVerb(method, path)).toBe(verb);
  });
});

describe("instrumentKubeConfig", () => {
  it("counts the requests of the generated clients and of Watch by component, verb and code, and times them", async () => {
    const registry = new Registry();
    const kc = instrumentKubeConfig(instrumentKubeConfig(kubeConfig(), "operator", registry), "operator", registry); // twice: counted once
    const core = kc.makeApiClient(CoreV1Api);
    const namespace = uniqueName("kube-metrics");
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    try {
      await core.readNamespace({ name: namespace });
      await core.listNamespacedConfigMap({ namespace });
      await expect(kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: "pixelmill.io", version: "v1alpha1", namespace, plural: "imagejobs", name: "absent" }))
        .rejects.toMatchObject({ code: 404 });
      const seen = new Promise<void>((resolve, reject) => {
        void new Watch(kc).watch(`/api/v1/namespaces/${namespace}/configmaps`, {}, (type) => type === "ADDED" && resolve(), (err: unknown) => err && reject(err as Error))
          .then((controller) => seen.finally(() => controller.abort()));
      });
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "watched" } } });
      await seen;
    } finally {
      await core.deleteNamespace({ name: namespace });
    }

    const text = await registry.metrics();
    const requests = (verb: string, code: string) => sample(text, `pixelmill_kube_api_requests_total{component="operator",verb="${verb}",code="${code}"}`);
    expect(requests("create", "201")).toBe(2);
    expect(requests("get", "200")).toBe(1);
    expect(requests("get", "404")).toBe(1);
    expect(requests("list", "200")).toBe(1);
    expect(requests("watch", "200")).toBe(1);
    expect(requests("delete", "200")).toBe(1);
    expect(sample(text, 'pixelmill_kube_api_request_duration_seconds_count{verb="create"}')).toBe(2);
    expect(sample(text, 'pixelmill_kube_api_request_duration_seconds_count{verb="watch"}')).toBe(1);
    expect(text).not.toContain(namespace);
  });
});
