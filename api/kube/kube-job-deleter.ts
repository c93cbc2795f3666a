import { ApiException, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import type { DeleteOutcome, DeleteTarget, JobDeletePort } from "../mirror/finished-job-deleter.js";

/**
 * The mirror's deletes of finished ImageJobs. Preconditions on UID and resourceVersion: a job
 * recreated under the same name, or changed since the mirror committed it, is left alone (409);
 * the mirror then hears of the change and decides again.
 */
export class KubeJobDeleter implements JobDeletePort {
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async deleteJob(t: DeleteTarget): Promise<DeleteOutcome> {
    try {
      await this.custom.deleteNamespacedCustomObject({
        group: GROUP, version: VERSION, plural: IMAGEJOB_PLURAL, namespace: t.namespace, name: t.name,
        body: { preconditions: { uid: t.uid, resourceVersion: t.resourceVersion } },
      });
      return "deleted";
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return "gone";
      if (err instanceof ApiException && err.code === 409) return "changed";
      throw err;
    }
  }
}
