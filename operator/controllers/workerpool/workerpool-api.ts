import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Deployment, type V1DeploymentList, type V1Pod } from "@kubernetes/client-node";
import { GROUP, VERSION, WORKERPOOL_PLURAL, type WorkerPool, type WorkerPoolList, type WorkerPoolStatus } from "../../../common/crd-types.js";
import { MANAGED_BY, WORKER_APP } from "./worker-deployment.js";

const FIELD_MANAGER = "pixelmill-operator";
/** The Deployments (and pods) the operator owns. */
export const WORKER_SELECTOR = `app.kubernetes.io/name=${WORKER_APP},app.kubernetes.io/managed-by=${MANAGED_BY}`;
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** The operator's apiserver calls for WorkerPools, their Deployments and pods. */
export class WorkerPoolApi {
  private readonly custom: CustomObjectsApi;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;

  constructor(kc: KubeConfig, readonly namespace?: string) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  poolsPath(): string {
    const base = `/apis/${GROUP}/${VERSION}`;
    return this.namespace ? `${base}/namespaces/${this.namespace}/${WORKERPOOL_PLURAL}` : `${base}/${WORKERPOOL_PLURAL}`;
  }

  deploymentsPath(): string {
    return this.namespace ? `/apis/apps/v1/namespaces/${this.namespace}/deployments` : "/apis/apps/v1/deployments";
  }

  listPools = async (): Promise<WorkerPoolList> => {
    const args = { group: GROUP, version: VERSION, plural: WORKERPOOL_PLURAL };
    return (this.namespace
      ? await this.custom.listNamespacedCustomObject({ ...args, namespace: this.namespace })
      : await this.custom.listClusterCustomObject(args)) as WorkerPoolList;
  };

  listDeployments = async (): Promise<V1DeploymentList> =>
    this.namespace
      ? this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: WORKER_SELECTOR })
      : this.apps.listDeploymentForAllNamespaces({ labelSelector: WORKER_SELECTOR });

  /** Server-side apply of the whole Deployment, replicas included: the operator owns every field it sets. */
  async applyDeployment(deployment: V1Deployment, replicas: number): Promise<void> {
    const body = { ...deployment, spec: { ...deployment.spec!, replicas } };
    await this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  async podsOf(namespace: string, pool: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector: `${WORKER_SELECTOR},pixelmill.io/pool=${pool}` })).items;
  }

  async annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
    await this.core.patchNamespacedPod({ namespace, name, body: { metadata: { annotations } } }, mergePatch);
  }

  /** A merge patch of status: the operator is its only writer, so no resourceVersion race to lose. */
  async patchStatus(pool: WorkerPool, status: WorkerPoolStatus): Promise<WorkerPool> {
    const { namespace, name } = pool.metadata as { namespace: string; name: string };
    return (await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, plural: WORKERPOOL_PLURAL, namespace, name, body: { status } },
      mergePatch,
    )) as WorkerPool;
  }
}
