import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { rfc3339Seconds } from "../../common/conditions.js";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJobStatus } from "../../common/crd-types.js";
import type { ApiFixture } from "./api-fixture.js";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Writes an ImageJob's status through the status subresource, as the operator does. */
export async function patchStatus(api: ApiFixture, name: string, status: ImageJobStatus): Promise<void> {
  await api.custom.patchNamespacedCustomObjectStatus(
    { group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name, body: { status } },
    mergePatch,
  );
}

export const now = (): string => rfc3339Seconds(new Date());

/** queued → running → succeeded, one status write each, with `output` as the result. */
export async function runToSuccess(api: ApiFixture, name: string, output: ImageJobStatus["output"]): Promise<void> {
  await patchStatus(api, name, { phase: "Queued", attempts: 0, queuedAt: now() });
  await patchStatus(api, name, { phase: "Running", attempts: 1, startedAt: now() });
  await patchStatus(api, name, { phase: "Succeeded", finishedAt: now(), output });
}
