import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION, WORKERPOOL_PLURAL, type WorkerPool, type WorkerPoolList } from "../../common/crd-types.js";
import type { PoolLister } from "../domain/ports.js";

/** The WorkerPools of every namespace, read from the apiserver at each call (few objects, an admin's page). */
export class KubePools implements PoolLister {
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async listPools(): Promise<WorkerPool[]> {
    return ((await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: WORKERPOOL_PLURAL })) as WorkerPoolList).items;
  }
}
