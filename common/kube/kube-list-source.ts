import { CustomObjectsApi, Watch, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobList } from "../crd-types.js";
import type { ListWatchSource, WatchEvent, WatchHandle } from "./list-watch.js";

/** A full list as client-node's list calls return it (the shape of its `ListPromise<T>`). */
export type ListFn<T> = () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;

export interface KubeListSourceOptions {
  /** Sent with each watch; `list` must apply the same selector itself. */
  labelSelector?: string;
  /** The server ends each watch after this long and the loop starts the next; 300. */
  watchTimeoutSeconds?: number;
}

/** Any resource, listed by `list` and watched at `path` (e.g. `/api/v1/namespaces/x/pods`). */
export class KubeListSource<T> implements ListWatchSource<T> {
  private readonly watcher: Watch;

  constructor(kc: KubeConfig, private readonly path: string, private readonly listFn: ListFn<T>, private readonly opts: KubeListSourceOptions = {}) {
    this.watcher = new Watch(kc);
  }

  async list(): Promise<{ items: T[]; resourceVersion: string }> {
    const list = await this.listFn();
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  async watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void): Promise<WatchHandle> {
    let settle!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => {
        // client-node aborts a watch after 30 s without a byte; a quiet resource is no failure, so
        // this ends like the server's timeout and the loop watches again from the same version.
        if (!err || (err as { name?: unknown }).name === "TimeoutError") resolve();
        else reject(err instanceof Error ? err : new Error("the watch failed", { cause: err }));
      };
    });
    const query = {
      resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300, labelSelector: this.opts.labelSelector,
    };
    const controller = await this.watcher.watch(this.path, query,
      (type: string, object: unknown) => onEvent({ type, object } as WatchEvent<T>),
      (err: unknown) => settle(err));
    return { done, abort: () => controller.abort() };
  }
}

/** ImageJobs of one namespace, or of all of them (what the API's mirror follows: every tenant's). */
export class KubeJobSource extends KubeListSource<ImageJob> {
  constructor(kc: KubeConfig, namespace: string | undefined, watchTimeoutSeconds = 300) {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const list = async () => (namespace === undefined
      ? await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: IMAGEJOB_PLURAL })
      : await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL })) as ImageJobList;
    const path = namespace === undefined ? `/apis/${GROUP}/${VERSION}/${IMAGEJOB_PLURAL}` : `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${IMAGEJOB_PLURAL}`;
    super(kc, path, list, { watchTimeoutSeconds });
  }
}
