import { afterAll, beforeAll, expect, it } from "vitest";
import { AppsV1Api, CoreV1Api, type V1Deployment, type V1PodSpec } from "@kubernetes/client-node";
import { kubeConfig, uniqueName } from "../support/env.js";
import { GPU_TAINT, GPUS_PER_NODE, gpuNodes, H100, isNodeReady, kwokNodes, SYSTEM_NODE } from "../../devstack/gpu-nodes.js";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const namespace = uniqueName("cluster");
const h100Nodes = gpuNodes.filter((n) => n.gpu === H100).map((n) => n.name);
const toleration = { key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect };

beforeAll(() => core.createNamespace({ body: { metadata: { name: namespace } } }));
// No kubelet runs these pods (they are not worker pods): delete them at once, not gracefully.
afterAll(async () => {
  await apps.deleteCollectionNamespacedDeployment({ namespace });
  await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 });
  await core.deleteNamespace({ name: namespace });
});

function gpuDeployment(name: string, replicas: number, gpus: number): V1Deployment {
  const labels = { app: name };
  const spec: V1PodSpec = {
    nodeSelector: { "nvidia.com/gpu.product": H100.product },
    tolerations: [toleration],
    containers: [{ name: "main", image: "pixelmill/idle", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }],
  };
  return { metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec } } };
}

const podsOf = async (app: string) => (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
const scheduledCondition = (pod: { status?: { conditions?: Array<{ type: string; status: string; reason?: string }> } }) =>
  pod.status?.conditions?.find((c) => c.type === "PodScheduled");

it("has two A100 and two H100 fake nodes, Ready, labelled, tainted and sized like real GPU nodes, and one untainted system node", async () => {
  const nodes = (await core.listNode({ labelSelector: "type=kwok" })).items;
  expect(nodes.map((n) => n.metadata?.name).sort()).toEqual(kwokNodes().sort());
  const system = nodes.find((n) => n.metadata?.name === SYSTEM_NODE)!;
  expect(isNodeReady(system), "the system node Ready").toBe(true);
  expect(system.spec?.taints ?? []).toEqual([]);
  expect(system.status?.allocatable?.["nvidia.com/gpu"]).toBeUndefined();
  for (const { name, gpu } of gpuNodes) {
    const node = nodes.find((n) => n.metadata?.name === name)!;
    expect(isNodeReady(node), `${name} Ready`).toBe(true);
    expect(node.metadata?.labels).toMatchObject({
      "nvidia.com/gpu.product": gpu.product, "nvidia.com/gpu.count": "8", "cloud.google.com/gke-accelerator": gpu.gkeAccelerator,
      "karpenter.k8s.aws/instance-gpu-name": gpu.karpenterGpuName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok",
    });
    expect(node.spec?.taints).toEqual([GPU_TAINT]);
    expect(node.status?.allocatable).toMatchObject({ "nvidia.com/gpu": String(GPUS_PER_NODE), memory: "1Ti", pods: "110", cpu: gpu.cpu });
    expect(node.status?.capacity?.["nvidia.com/gpu"]).toBe("8");
  }
  expect(new Set(gpuNodes.map((n) => n.gpu.product))).toEqual(new Set(["NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3"]));
});

it("schedules a Deployment asking for an H100 GPU onto H100 nodes only", async () => {
  await apps.createNamespacedDeployment({ namespace, body: gpuDeployment("on-h100", 6, 1) });
  await expect.poll(async () => (await podsOf("on-h100")).filter((p) => p.spec?.nodeName).length, { timeout: 60_000, interval: 250 }).toBe(6);
  const nodesUsed = new Set((await podsOf("on-h100")).map((p) => p.spec?.nodeName));
  for (const node of nodesUsed) expect(h100Nodes).toContain(node);
});

it("leaves a pod that does not tolerate the GPU taint Pending, Unschedulable", async () => {
  const spec: V1PodSpec = {
    nodeSelector: { "nvidia.com/gpu.product": H100.product },
    containers: [{ name: "main", image: "pixelmill/idle", resources: { limits: { "nvidia.com/gpu": "1" } } }],
  };
  await core.createNamespacedPod({ namespace, body: { metadata: { name: "no-toleration", labels: { app: "no-toleration" } }, spec } });
  await expect.poll(async () => scheduledCondition(await core.readNamespacedPod({ namespace, name: "no-toleration" })), { timeout: 60_000, interval: 250 })
    .toMatchObject({ status: "False", reason: "Unschedulable" });
  const pod = await core.readNamespacedPod({ namespace, name: "no-toleration" });
  expect(pod.status?.phase).toBe("Pending");
  expect(pod.spec?.nodeName).toBeUndefined();
});

it("leaves the replicas that do not fit in the H100 GPUs Pending", async () => {
  await apps.deleteNamespacedDeployment({ name: "on-h100", namespace });
  await core.deleteCollectionNamespacedPod({ namespace, labelSelector: "app=on-h100", gracePeriodSeconds: 0 });
  // Whole-node pods: two H100 nodes of 8 GPUs hold two at most, whatever other test files run there.
  await apps.createNamespacedDeployment({ namespace, body: gpuDeployment("too-many", 3, GPUS_PER_NODE) });
  const counts = async () => {
    const pods = await podsOf("too-many");
    const bound = pods.filter((p) => p.spec?.nodeName);
    const unschedulable = pods.filter((p) => scheduledCondition(p)?.reason === "Unschedulable" && p.status?.phase === "Pending");
    return { total: pods.length, settled: bound.length + unschedulable.length, unschedulable: unschedulable.length, nodes: bound.map((p) => p.spec?.nodeName) };
  };
  await expect.poll(counts, { timeout: 60_000, interval: 250 }).toMatchObject({ total: 3, settled: 3 });
  const { unschedulable, nodes } = await counts();
  expect(unschedulable).toBeGreaterThanOrEqual(1);
  expect(new Set(nodes).size).toBe(nodes.length); // one whole-node pod per node
  for (const node of nodes) expect(h100Nodes).toContain(node);
});
