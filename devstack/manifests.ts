import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";

/** Every object in the YAML files of `dir` (sorted by file name). */
export async function readManifests(dir: string): Promise<KubernetesObject[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const docs = await Promise.all(files.map(async (f) => parseAllDocuments(await readFile(join(dir, f), "utf8"))));
  return docs.flat().map((d) => d.toJS() as KubernetesObject).filter((o) => o?.kind);
}

/** Server-side applies the objects into `namespace`, as `kubectl apply --server-side` would. */
export async function applyManifests(kc: KubeConfig, objects: KubernetesObject[], namespace: string): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    const body = { ...obj, metadata: { ...obj.metadata, namespace } };
    await api.patch(body, undefined, undefined, "pixelmill", true, PatchStrategy.ServerSideApply);
  }
}

