import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import type { Clock } from "../clock.js";
import { ListWatch, errorMessage, type ListWatchSource, type ObjectEventType } from "./list-watch.js";
import { KubeListSource, type ListFn } from "./kube-list-source.js";

export { errorMessage };

export interface InformerHandlers<T> {
  onChange(obj: T): void;
  onDelete?(obj: T): void;
}

export interface Informer<T> {
  get(namespace: string, name: string): T | undefined;
  /** Every cached object; of one namespace when given. */
  list(namespace?: string): readonly T[];
  /** Resolves once the first list has filled the cache. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface InformerOptions {
  log: Logger;
  clock?: Clock;
  maxBackoffMs?: number;
}

/**
 * A list+watch cache of one resource at `path` (cluster-wide paths included), on our ListWatch:
 * it relists on 410 Gone and retries every other failure with capped exponential backoff.
 */
export function startableInformer<T extends KubernetesObject>(
  kc: KubeConfig, path: string, listFn: ListFn<T>, handlers: InformerHandlers<T>,
  opts: InformerOptions & { labelSelector?: string },
): Informer<T> {
  const source = new KubeListSource(kc, path, listFn, { labelSelector: opts.labelSelector });
  return new CacheInformer(source, handlers, { ...opts, log: opts.log.child({ path }) });
}

/**
 * The cache over any source. A full list replaces it, client-go's Replace: every listed object
 * is reported changed and every cached one missing from the list deleted, so deletes missed
 * while the watch was down (410 Gone) still reach the handlers.
 */
export class CacheInformer<T extends KubernetesObject> implements Informer<T> {
  /** namespace ("" for cluster-scoped objects) → name → object */
  private objects = new Map<string, Map<string, T>>();
  private readonly loop: ListWatch<T>;
  private readonly log: Logger;
  private firstList: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(source: ListWatchSource<T>, private readonly handlers: InformerHandlers<T>, opts: InformerOptions) {
    this.log = opts.log;
    this.loop = new ListWatch(source, {
      synced: (items) => Promise.resolve(this.replace(items)),
      changed: (type, obj) => Promise.resolve(this.apply(type, obj)),
    }, { log: opts.log, clock: opts.clock, maxDelayMs: opts.maxBackoffMs });
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(namespace || "")?.get(name);
  }

  list(namespace?: string): readonly T[] {
    if (!namespace) return [...this.objects.values()].flatMap((byName) => [...byName.values()]);
    return [...(this.objects.get(namespace)?.values() ?? [])];
  }

  start(): Promise<void> {
    if (!this.firstList) {
      let settle!: { resolve: () => void; reject: (err: Error) => void };
      const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      promise.catch(() => {}); // stop() rejects it; only a caller awaiting it need hear of that
      this.firstList = { promise, ...settle };
      if (this.loop.synced) settle.resolve(); // started again: the cache is filled already
      this.loop.start();
    }
    return this.firstList.promise;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    // A caller still waiting for the first list must not wait forever.
    this.firstList?.reject(new Error("informer stopped before its first list"));
    this.firstList = undefined;
  }

  private replace(items: T[]): void {
    const old = this.objects;
    this.objects = new Map();
    for (const item of items) this.byName(item, true).set(nameOf(item), item);
    for (const [namespace, byName] of old) {
      for (const [name, gone] of byName) {
        if (!this.objects.get(namespace)?.has(name)) this.call("onDelete", gone);
      }
    }
    items.forEach((item) => this.call("onChange", item));
    this.firstList?.resolve();
  }

  private apply(type: ObjectEventType, obj: T): void {
    if (type !== "DELETED") {
      this.byName(obj, true).set(nameOf(obj), obj);
      return this.call("onChange", obj);
    }
    const byName = this.byName(obj, false);
    if (!byName?.delete(nameOf(obj))) return; // never seen: nothing to forget
    if (byName.size === 0) this.objects.delete(obj.metadata?.namespace ?? "");
    this.call("onDelete", obj);
  }

  private byName(obj: T, create: true): Map<string, T>;
  private byName(obj: T, create: false): Map<string, T> | undefined;
  private byName(obj: T, create: boolean): Map<string, T> | undefined {
    const namespace = obj.metadata?.namespace ?? "";
    let byName = this.objects.get(namespace);
    if (!byName && create) this.objects.set(namespace, (byName = new Map<string, T>()));
    return byName;
  }

  /** A handler's bug must not stop the cache: the next event would never come. */
  private call(handler: "onChange" | "onDelete", obj: T): void {
    try {
      this.handlers[handler]?.(obj);
    } catch (err) {
      this.log.error({ handler, object: `${obj.metadata?.namespace ?? ""}/${nameOf(obj)}`, err: errorMessage(err) }, "Informer handler failed");
    }
  }
}

function nameOf(obj: KubernetesObject): string {
  return obj.metadata?.name ?? "";
}
