import type { CoreV1Api, V1Node, V1Taint } from "@kubernetes/client-node";

/** The taint real GPU node pools carry, so only pods that tolerate it land there. */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" } as const;
/** KWOK manages exactly the nodes with this annotation (kwok --manage-nodes-with-annotation-selector). */
export const KWOK_NODE_ANNOTATION = { key: "kwok.x-k8s.io/node", value: "fake" } as const;

export interface GpuClass {
  product: string;
  gkeAccelerator: string;
  karpenterGpuName: string;
  cpu: string;
}

export const A100: GpuClass = { product: "NVIDIA-A100-SXM4-80GB", gkeAccelerator: "nvidia-tesla-a100", karpenterGpuName: "a100", cpu: "96" };
export const H100: GpuClass = { product: "NVIDIA-H100-80GB-HBM3", gkeAccelerator: "nvidia-h100-80gb", karpenterGpuName: "h100", cpu: "128" };
export const GPUS_PER_NODE = 8;

/** The fake GPU nodes the harness creates: two A100 and two H100 nodes of 8 GPUs each. */
export const gpuNodes: ReadonlyArray<{ name: string; gpu: GpuClass }> = [
  { name: "kwok-a100-0", gpu: A100 },
  { name: "kwok-a100-1", gpu: A100 },
  { name: "kwok-h100-0", gpu: H100 },
  { name: "kwok-h100-1", gpu: H100 },
];

/** A Node labelled, tainted and sized like a real GPU node of a managed cluster (GKE, Karpenter, GPU operator). */
export function gpuNodeManifest(name: string, gpu: GpuClass): V1Node {
  return kwokNode(name, { cpu: gpu.cpu, memory: "1Ti", "nvidia.com/gpu": String(GPUS_PER_NODE) }, {
    "nvidia.com/gpu.product": gpu.product,
    "nvidia.com/gpu.count": String(GPUS_PER_NODE),
    "cloud.google.com/gke-accelerator": gpu.gkeAccelerator,
    "karpenter.k8s.aws/instance-gpu-name": gpu.karpenterGpuName,
  }, [{ ...GPU_TAINT }]);
}

/** The fake node for everything that needs no GPU (the chart's API, operator and migration Job; CPU worker pools): untainted. */
export const SYSTEM_NODE = "kwok-system-0";

/** A plain node of a cluster's system pool. */
export function systemNodeManifest(name: string): V1Node {
  return kwokNode(name, { cpu: "16", memory: "64Gi" }, {}, []);
}

/** A Node KWOK keeps Ready, with the standard labels, these sizes (and 110 pods), labels and taints. */
function kwokNode(name: string, sizes: Record<string, string>, labels: Record<string, string>, taints: V1Taint[]): V1Node {
  const resources = { ...sizes, pods: "110" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value, "node.alpha.kubernetes.io/ttl": "0" },
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", ...labels, type: "kwok" },
    },
    ...(taints.length ? { spec: { taints } } : {}),
    // The apiserver keeps a new Node's status; KWOK's node-initialize stage keeps these sizes.
    status: { capacity: resources, allocatable: resources },
  };
}

/** Every fake node's name: the GPU nodes and the system node. */
export function kwokNodes(): string[] {
  return [...gpuNodes.map((n) => n.name), SYSTEM_NODE];
}

/** Creates the fake GPU nodes (an existing one of the same name is left as it is). */
export async function createGpuNodes(core: CoreV1Api): Promise<void> {
  await Promise.all(gpuNodes.map(({ name, gpu }) => createNode(core, gpuNodeManifest(name, gpu))));
}

/** Creates every fake node: the GPU nodes and the system node. */
export async function createKwokNodes(core: CoreV1Api): Promise<void> {
  await Promise.all([createGpuNodes(core), createNode(core, systemNodeManifest(SYSTEM_NODE))]);
}

async function createNode(core: CoreV1Api, node: V1Node): Promise<void> {
  try {
    await core.createNode({ body: node });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export function isNodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Ready, and the node lifecycle controller has lifted its not-ready taints: pods can be placed there. */
export function isNodeSchedulable(node: V1Node): boolean {
  return isNodeReady(node) && !node.spec?.taints?.some((t) => t.key.startsWith("node.kubernetes.io/"));
}
