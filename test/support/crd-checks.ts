import { afterAll, beforeAll, expect } from "vitest";
import { ApiException, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import { kubeConfig, uniqueName } from "./env.js";

/** Expects `request` to be refused as invalid (422) with `fragment` in the apiserver's message. */
export async function expectRefused(request: Promise<unknown>, fragment: string): Promise<void> {
  const err = await request.then(() => new Error("the apiserver accepted it"), (e: unknown) => e);
  if (!(err instanceof ApiException)) throw err;
  expect(err.code).toBe(422);
  expect((JSON.parse(String(err.body)) as { message?: string }).message).toContain(fragment);
}

/**
 * A namespace of the suite's own for manifests the apiserver checks, made before its tests and
 * deleted after: `where()` addresses its ImageJobs.
 */
export function imageJobNamespace(prefix: string): { custom: () => CustomObjectsApi; where: () => { group: string; version: string; namespace: string; plural: string } } {
  let ns = "";
  let custom: CustomObjectsApi | undefined;
  beforeAll(async () => {
    const kc = kubeConfig();
    custom = kc.makeApiClient(CustomObjectsApi);
    ns = uniqueName(prefix);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });
  afterAll(async () => {
    if (ns) await kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
  });
  return { custom: () => custom!, where: () => ({ group: GROUP, version: VERSION, namespace: ns, plural: IMAGEJOB_PLURAL }) };
}
