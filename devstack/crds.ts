import { readManifests } from "./manifests.js";
import { ApiextensionsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1CustomResourceDefinition } from "@kubernetes/client-node";
import { waitUntil } from "./processes.js";

/** Creates or updates every CRD in `dir`, then waits until each is Established. */
export async function installCrds(kc: KubeConfig, dir: string): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crds = await readCrds(dir);
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    // Server-side apply: idempotent on a fresh apiserver and on an existing cluster alike.
    await api.patchCustomResourceDefinition(
      { name, body: crd, fieldManager: "pixelmill-harness", force: true },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    );
  }
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    await waitUntil(`CRD ${name} Established`, async () => {
      const got = await api.readCustomResourceDefinition({ name });
      return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false;
    }, { timeoutMs: 30_000 });
  }
  return crds.map((c) => c.metadata!.name!);
}

export async function readCrds(dir: string): Promise<V1CustomResourceDefinition[]> {
  return (await readManifests(dir)).filter((o): o is V1CustomResourceDefinition => o.kind === "CustomResourceDefinition");
}
