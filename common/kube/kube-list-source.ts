import { CustomObjectsApi, Watch, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobList } from "../crd-types.js";
import type { ListWatchSource, WatchEvent, WatchHandle } from "./list-watch.js";

/** ImageJobs of one namespace, listed and watched through the apiserver. */
export class KubeJobSource implements ListWatchSource<ImageJob> {
  private readonly custom: CustomObjectsApi;
  private readonly watcher: Watch;

  /** `watchTimeoutSeconds`: the server ends each watch after this long and the loop starts the next. */
  constructor(kc: KubeConfig, private readonly namespace: string, private readonly watchTimeoutSeconds = 300) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kc);
  }

  async list(): Promise<{ items: ImageJob[]; resourceVersion: string }> {
    const list = (await this.custom.listNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: this.namespace, plural: IMAGEJOB_PLURAL,
    })) as ImageJobList;
    return { items: list.items, resourceVersion: list.metadata.resourceVersion ?? "" };
  }

  async watch(resourceVersion: string, onEvent: (event: WatchEvent<ImageJob>) => void): Promise<WatchHandle> {
    let settle!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err instanceof Error ? err : new Error("the watch failed", { cause: err })) : resolve());
    });
    const controller = await this.watcher.watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${this.namespace}/${IMAGEJOB_PLURAL}`,
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.watchTimeoutSeconds },
      (type: string, object: unknown) => onEvent({ type, object } as WatchEvent<ImageJob>),
      (err: unknown) => settle(err),
    );
    return { done, abort: () => controller.abort() };
  }
}
