import { Router } from "express";
import { autoscalingOf, type WorkerPool } from "../../../common/crd-types.js";
import type { Logger } from "../../../common/logger.js";
import { POOL_HISTORY_WINDOW_MS, type PoolSample } from "../../../common/pool-history.js";
import type { Authenticate } from "../../domain/authenticate.js";
import type { PoolHistory, PoolLister } from "../../domain/ports.js";
import { requireKey } from "../auth.js";
import type { PoolListView, PoolView } from "../schemas.js";

export interface PoolRoutesDeps {
  /** None: the route fails (an app made without the apiserver's pools). */
  pools?: PoolLister;
  history?: PoolHistory;
  auth: Authenticate;
  log: Logger;
  now?: () => number;
}

/**
 * GET /v1/pools (admin): every WorkerPool of the platform with its status and last hour. The
 * history is an aid to the eye: while Redis cannot be read, the pools are shown without it.
 */
export function poolRoutes(deps: PoolRoutesDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  router.get("/v1/pools", requireKey(deps.auth, "admin"), async (_req, res) => {
    if (!deps.pools || !deps.history) throw new Error("this app was made without the pools and their history (AppDeps.pools)");
    const { history: samples } = deps;
    const pools = (await deps.pools.listPools())
      .filter((p) => !p.metadata.deletionTimestamp)
      .sort((a, b) => (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
    const refs = pools.map((p) => ({ namespace: p.metadata.namespace ?? "", name: p.metadata.name ?? "" }));
    const history = await samples.since(refs, now() - POOL_HISTORY_WINDOW_MS).catch((err: unknown) => {
      deps.log.warn({ err }, "Could not read the pools' history");
      return refs.map(() => []);
    });
    const view: PoolListView = { items: pools.map((p, i) => presentPool(p, history[i] ?? [])) };
    res.json(view);
  });
  return router;
}

function presentPool({ metadata, spec, status = {} }: WorkerPool, history: PoolSample[]): PoolView {
  const a = autoscalingOf(spec);
  return {
    name: metadata.name ?? "",
    namespace: metadata.namespace ?? "",
    gpu: { product: spec.gpu?.product ?? null, count: spec.gpu?.count ?? 0 },
    models: spec.models,
    priority: spec.priority ?? 0,
    replicas: {
      min: a.minReplicas, max: a.maxReplicas,
      desired: status.desiredReplicas ?? 0, ready: status.readyReplicas ?? 0, pending: status.pendingReplicas ?? 0,
    },
    waiting: status.waiting ?? 0,
    in_flight: status.inFlight ?? 0,
    last_scale_reason: status.lastScaleReason ?? null,
    last_scale_time: status.lastScaleTime ?? null,
    conditions: (status.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    history: history.map((s) => ({ at: new Date(s.at).toISOString(), desired: s.desired, ready: s.ready, pending: s.pending, waiting: s.waiting, in_flight: s.inFlight })),
  };
}
