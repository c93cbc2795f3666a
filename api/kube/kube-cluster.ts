import { ApiException, CustomObjectsApi, VersionApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, type ImageJob, type ImageModel, type ImageModelList } from "../../common/crd-types.js";
import { JobRejectedError } from "../domain/errors.js";
import type { Cluster } from "../domain/ports.js";

export interface KubeClusterOptions {
  namespace: string;
  /** How long a model seen to exist is trusted without asking again; unknown names are always asked. */
  modelCacheMs?: number;
  now?: () => number;
}

/** The API's calls to the apiserver: ImageJob create and delete, and ImageModel reads, in one namespace. */
export class KubeCluster implements Cluster {
  private readonly custom: CustomObjectsApi;
  private readonly version: VersionApi;
  private readonly models = new Map<string, { model: ImageModel; until: number }>();
  private readonly now: () => number;

  constructor(kc: KubeConfig, private readonly opts: KubeClusterOptions) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.version = kc.makeApiClient(VersionApi);
    this.now = opts.now ?? Date.now;
  }

  async createJob(job: ImageJob): Promise<ImageJob> {
    try {
      return (await this.custom.createNamespacedCustomObject({ ...this.at(IMAGEJOB_PLURAL), body: job })) as ImageJob;
    } catch (err) {
      if (err instanceof ApiException && err.code === 422) throw new JobRejectedError(statusMessage(err));
      throw err;
    }
  }

  async deleteJob(name: string, uid: string): Promise<ImageJob | undefined> {
    try {
      const gone = (await this.custom.deleteNamespacedCustomObject({ ...this.at(IMAGEJOB_PLURAL), name, body: { preconditions: { uid } } })) as Partial<ImageJob>;
      // The apiserver answers with the deleted object (or, from some versions, a Status).
      return gone.kind === "ImageJob" ? (gone as ImageJob) : { metadata: { name, uid } } as ImageJob;
    } catch (err) {
      if (err instanceof ApiException && (err.code === 404 || err.code === 409)) return undefined;
      throw err;
    }
  }

  async getModel(name: string): Promise<ImageModel | undefined> {
    const cached = this.models.get(name);
    if (cached && cached.until > this.now()) return cached.model;
    try {
      const model = (await this.custom.getNamespacedCustomObject({ ...this.at(IMAGEMODEL_PLURAL), name })) as ImageModel;
      this.models.set(name, { model, until: this.now() + (this.opts.modelCacheMs ?? 10_000) });
      return model;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) {
        this.models.delete(name);
        return undefined;
      }
      throw err;
    }
  }

  async listModels(): Promise<ImageModel[]> {
    return ((await this.custom.listNamespacedCustomObject(this.at(IMAGEMODEL_PLURAL))) as ImageModelList).items;
  }

  /** For readiness: throws when the apiserver does not answer. */
  async ping(): Promise<void> {
    await this.version.getCode();
  }

  private at(plural: string) {
    return { group: GROUP, version: VERSION, namespace: this.opts.namespace, plural };
  }
}

/** The message of the metav1.Status the apiserver sends with a refusal. */
function statusMessage(err: ApiException<unknown>): string {
  try {
    const status = JSON.parse(String(err.body)) as { message?: unknown };
    if (typeof status.message === "string") return status.message;
  } catch {
    // not JSON: fall through to the raw body
  }
  return String(err.body).slice(0, 1024);
}
