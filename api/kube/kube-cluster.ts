import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, CustomObjectsApi, VersionApi, type KubeConfig } from "@kubernetes/client-node";
import { grantedBuckets } from "../../common/job/input-grants.js";
import { GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, type ImageJob, type ImageModel, type ImageModelList } from "../../common/crd-types.js";
import { JobRejectedError, ModelExistsError, ModelRejectedError } from "../domain/errors.js";
import type { Cluster } from "../domain/ports.js";

export interface KubeClusterOptions {
  /** PIXELMILL_NAMESPACE: the shared ImageModels live here (ADR 0007). */
  platformNamespace: string;
  /** How long a model seen to exist is trusted without asking again; unknown names are always asked. */
  modelCacheMs?: number;
  /** How long a namespace's granted input buckets are trusted without asking again; 5 s. */
  grantCacheMs?: number;
  now?: () => number;
}

/** The API's calls to the apiserver: ImageJob create and delete, ImageModel reads and creates, tenants' namespaces. */
export class KubeCluster implements Cluster {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly version: VersionApi;
  private readonly models = new Map<string, { model: ImageModel; until: number }>();
  private readonly grants = new Map<string, { buckets: string[]; until: number }>();
  private readonly now: () => number;

  constructor(kc: KubeConfig, private readonly opts: KubeClusterOptions) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.version = kc.makeApiClient(VersionApi);
    this.now = opts.now ?? Date.now;
  }

  async createJob(job: ImageJob): Promise<ImageJob> {
    try {
      return (await this.custom.createNamespacedCustomObject({ ...this.at(job.metadata.namespace ?? "", IMAGEJOB_PLURAL), body: job })) as ImageJob;
    } catch (err) {
      if (err instanceof ApiException && err.code === 422) throw new JobRejectedError(statusMessage(err));
      throw err;
    }
  }

  async deleteJob(namespace: string, name: string, uid: string): Promise<ImageJob | undefined> {
    try {
      const gone = (await this.custom.deleteNamespacedCustomObject({ ...this.at(namespace, IMAGEJOB_PLURAL), name, body: { preconditions: { uid } } })) as Partial<ImageJob>;
      // The apiserver answers with the deleted object (or, from some versions, a Status).
      return gone.kind === "ImageJob" ? (gone as ImageJob) : { metadata: { name, uid } } as ImageJob;
    } catch (err) {
      if (err instanceof ApiException && (err.code === 404 || err.code === 409)) return undefined;
      throw err;
    }
  }

  async getModel(namespace: string, name: string): Promise<ImageModel | undefined> {
    const key = `${namespace}/${name}`;
    const cached = this.models.get(key);
    if (cached && cached.until > this.now()) return cached.model;
    // The tenant's own model wins by name; else the platform's shared one.
    const model = (await this.readModel(namespace, name)) ?? (namespace === this.opts.platformNamespace ? undefined : await this.readModel(this.opts.platformNamespace, name));
    if (model) this.models.set(key, { model, until: this.now() + (this.opts.modelCacheMs ?? 10_000) });
    else this.models.delete(key);
    return model;
  }

  async listModels(namespace: string): Promise<ImageModel[]> {
    const list = async (ns: string) => ((await this.custom.listNamespacedCustomObject(this.at(ns, IMAGEMODEL_PLURAL))) as ImageModelList).items;
    const byName = new Map<string, ImageModel>();
    if (namespace !== this.opts.platformNamespace) for (const m of await list(this.opts.platformNamespace)) byName.set(m.metadata.name ?? "", m);
    for (const m of await list(namespace)) byName.set(m.metadata.name ?? "", m);
    return [...byName.values()];
  }

  async createModel(model: ImageModel, opts: { dryRun?: boolean } = {}): Promise<ImageModel> {
    const namespace = model.metadata.namespace ?? "";
    const name = model.metadata.name ?? "";
    try {
      const created = (await this.custom.createNamespacedCustomObject({
        ...this.at(namespace, IMAGEMODEL_PLURAL), body: model, ...(opts.dryRun ? { dryRun: "All" } : {}),
      })) as ImageModel;
      // This replica's jobs get the new model at once, not a cached platform one of the same name.
      this.models.delete(`${namespace}/${name}`);
      return created;
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) throw new ModelExistsError(name, namespace);
      if (err instanceof ApiException && err.code === 422) throw new ModelRejectedError(statusMessage(err));
      throw err;
    }
  }

  async ensureNamespace(namespace: string, tenant: string): Promise<void> {
    const labels = { "pixelmill.io/tenant": tenant };
    try {
      await this.core.createNamespace({ body: { metadata: { name: namespace, labels } } });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
      // Adopted: it exists already, and says whose it is now.
      await this.core.patchNamespace({ name: namespace, body: { metadata: { labels } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    }
  }

  async grantedInputBuckets(namespace: string): Promise<string[]> {
    const cached = this.grants.get(namespace);
    if (cached && cached.until > this.now()) return cached.buckets;
    let buckets: string[];
    try {
      buckets = grantedBuckets((await this.core.readNamespace({ name: namespace })).metadata?.annotations);
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
      buckets = [];
    }
    // Kept few, and briefly: a grant withdrawn by the platform admin applies within seconds.
    if (this.grants.size > 1000) this.grants.clear();
    this.grants.set(namespace, { buckets, until: this.now() + (this.opts.grantCacheMs ?? 5000) });
    return buckets;
  }

  private async readModel(namespace: string, name: string): Promise<ImageModel | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...this.at(namespace, IMAGEMODEL_PLURAL), name })) as ImageModel;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  /** For readiness: throws when the apiserver does not answer. */
  async ping(): Promise<void> {
    await this.version.getCode();
  }

  private at(namespace: string, plural: string) {
    return { group: GROUP, version: VERSION, namespace, plural };
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
