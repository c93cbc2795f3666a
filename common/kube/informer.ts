import { makeInformer, type KubeConfig, type KubernetesObject, type ListPromise } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import { systemClock, type Clock } from "../clock.js";

export interface InformerHandlers<T> {
  onChange(obj: T): void;
  onDelete?(obj: T): void;
}

export interface Informer<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves once the first list has filled the cache. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A list+watch cache of one resource. client-node's ListWatch relists after 410 Gone and when a
 * watch ends; on any other error it stops, so this restarts it with capped exponential backoff.
 */
export function startableInformer<T extends KubernetesObject>(
  kc: KubeConfig, path: string, listFn: ListPromise<T>, handlers: InformerHandlers<T>,
  opts: { log: Logger; clock?: Clock; maxBackoffMs?: number; labelSelector?: string },
): Informer<T> {
  const clock = opts.clock ?? systemClock;
  const inner = makeInformer<T>(kc, path, listFn, opts.labelSelector);
  let stopped = false;
  let failures = 0;
  let timer: unknown;
  inner.on("add", (o) => handlers.onChange(o));
  inner.on("update", (o) => handlers.onChange(o));
  inner.on("delete", (o) => handlers.onDelete?.(o));
  inner.on("connect", () => (failures = 0));
  inner.on("error", (err: unknown) => {
    if (stopped) return;
    const delay = Math.min(200 * 2 ** failures++, opts.maxBackoffMs ?? 30_000);
    opts.log.warn({ path, err: errorMessage(err), retryInMs: delay }, "Watch failed, restarting");
    timer = clock.setTimeout(() => {
      if (!stopped) inner.start().catch(() => {}); // a failure here is reported through "error" again
    }, delay);
  });
  return {
    get: (namespace, name) => inner.get(name, namespace),
    list: (namespace) => inner.list(namespace),
    start: () => inner.start(),
    stop: async () => {
      stopped = true;
      clock.clearTimeout(timer);
      await inner.stop();
    },
  };
}

export function errorMessage(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { message?: string; code?: number; body?: unknown };
    if (e.code && e.body) return `HTTP ${e.code}: ${typeof e.body === "string" ? e.body.slice(0, 300) : JSON.stringify(e.body).slice(0, 300)}`;
    if (e.message) return e.message;
  }
  return String(err);
}
