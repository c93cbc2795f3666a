import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1NamespaceList } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEJOB_KIND, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, type ImageJob, type ImageJobList, type ImageJobStatus, type ImageModel, type ImageModelList } from "../../../common/crd-types.js";

const path = (plural: string, namespace?: string) =>
  namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`;

/** The operator's writes and reads of ImageJobs, ImageModels and Events: every apiserver call in one place. */
export class ImageJobApi {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig, readonly namespace?: string) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  jobsPath(): string {
    return path(IMAGEJOB_PLURAL, this.namespace);
  }

  modelsPath(): string {
    return path(IMAGEMODEL_PLURAL, this.namespace);
  }

  /** Namespaces (cluster-scoped): their annotations grant input buckets (common/job/input-grants.ts). */
  namespacesPath(): string {
    return "/api/v1/namespaces";
  }

  listJobs = async (): Promise<ImageJobList> => this.list<ImageJobList>(IMAGEJOB_PLURAL);
  listNamespaces = async (): Promise<V1NamespaceList> => this.core.listNamespace();
  listModels = async (): Promise<ImageModelList> => this.list<ImageModelList>(IMAGEMODEL_PLURAL);

  /** Replaces the status, failing with 409 if the object changed since it was read. */
  async writeStatus(job: ImageJob, status: ImageJobStatus): Promise<ImageJob> {
    const { namespace, name } = job.metadata as { namespace: string; name: string };
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP, version: VERSION, plural: IMAGEJOB_PLURAL, namespace, name, body: { ...job, status },
    })) as ImageJob;
  }

  /** True when the ImageJob exists with this UID (one read, for the sweep of missed deletes). */
  async jobExists(namespace: string, name: string, uid: string): Promise<boolean> {
    try {
      const job = (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: IMAGEJOB_PLURAL, namespace, name })) as ImageJob;
      return job.metadata.uid === uid;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
  }

  /** Deletes this very ImageJob (a UID precondition, so a new one with the same name is safe). */
  async deleteJob(job: ImageJob): Promise<void> {
    const { namespace, name, uid } = job.metadata as { namespace: string; name: string; uid: string };
    await this.custom.deleteNamespacedCustomObject({
      group: GROUP, version: VERSION, plural: IMAGEJOB_PLURAL, namespace, name, body: { preconditions: { uid } },
    });
  }

  async recordEvent(job: ImageJob, type: "Normal" | "Warning", reason: string, message: string, now: Date): Promise<void> {
    const { namespace, name, uid } = job.metadata as { namespace: string; name: string; uid: string };
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${name}.` },
        involvedObject: { apiVersion: API_VERSION, kind: IMAGEJOB_KIND, namespace, name, uid },
        type, reason, message: message.slice(0, 1024),
        firstTimestamp: now, lastTimestamp: now, count: 1,
        source: { component: "pixelmill-operator" }, reportingComponent: "pixelmill-operator", reportingInstance: process.env.HOSTNAME ?? "local",
      },
    });
  }

  private async list<T>(plural: string): Promise<T> {
    const args = { group: GROUP, version: VERSION, plural };
    return (this.namespace
      ? await this.custom.listNamespacedCustomObject({ ...args, namespace: this.namespace })
      : await this.custom.listClusterCustomObject(args)) as T;
  }
}

export type { ImageModel };
