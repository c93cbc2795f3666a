/**
 * The autoscaler's arithmetic, free of I/O so it is tested as a table.
 *
 * Demand is what is waiting plus what is in flight, so a pool never scales to zero under running
 * work. Waiting jobs of a model fill the pools serving it in order of preference (priority, then
 * name) up to each pool's capacity (maxReplicas × targetJobsPerReplica, less its own in-flight
 * work), and spill to the next. Scale-up is immediate and in one step; scale-down waits until
 * `scaleDownWindowSeconds` have passed since the pool last finished a job (or last scaled up),
 * goes no lower than the highest target of the plans within that window (so one low reading,
 * such as a job caught between two reads, never removes a worker), and never below the number of
 * busy workers.
 */

export interface PoolInput {
  /** `namespace/name` */
  key: string;
  models: readonly string[];
  priority: number;
  minReplicas: number;
  maxReplicas: number;
  targetJobsPerReplica: number;
  scaleDownWindowMs: number;
  /** The Deployment's spec.replicas now (Pending pods included: capacity on its way). */
  replicas: number;
  /** Jobs running on this pool's live workers. */
  inFlight: number;
  /** Workers running at least one job: a scale-down never goes below this. */
  busyWorkers: number;
  /** When the pool last finished a job or scaled up (ms since the epoch), if known. */
  lastActivity?: number;
  /** The targets of this pool's earlier plans, `[ms since the epoch, replicas]` (see TargetWindow). */
  recentTargets?: readonly (readonly [number, number])[];
}

export interface PoolPlan {
  /** Waiting jobs of the pool's models (all of them, whichever pool will take them). */
  waiting: number;
  /** The share of the waiting jobs this pool is to carry. */
  assigned: number;
  inFlight: number;
  /** Replicas the demand asks for, before min/max. */
  wanted: number;
  /** Replicas the demand asks for within min/max and above the busy workers: what TargetWindow remembers. */
  target: number;
  /** Replicas to set now. */
  replicas: number;
  reason: string;
  /** Set when a scale-down is held back by the window: look again after this many ms. */
  recheckInMs?: number;
}

/** Pools in the order demand fills them. */
export function byPreference<T extends Pick<PoolInput, "key" | "priority">>(pools: readonly T[]): T[] {
  return [...pools].sort((a, b) => a.priority - b.priority || a.key.localeCompare(b.key));
}

export function planPools(pools: readonly PoolInput[], waitingByModel: ReadonlyMap<string, number>, now: number): Map<string, PoolPlan> {
  const ordered = byPreference(pools);
  const room = new Map(ordered.map((p) => [p.key, Math.max(0, p.maxReplicas * p.targetJobsPerReplica - p.inFlight)]));
  const assigned = new Map(ordered.map((p) => [p.key, 0]));
  for (const model of [...waitingByModel.keys()].sort()) {
    let left = waitingByModel.get(model) ?? 0;
    const serving = ordered.filter((p) => p.models.includes(model));
    for (const pool of serving) {
      const take = Math.min(left, room.get(pool.key)!);
      room.set(pool.key, room.get(pool.key)! - take);
      assigned.set(pool.key, assigned.get(pool.key)! + take);
      left -= take;
    }
    // Every pool full: the overflow waits on the preferred one (already at its max).
    if (left > 0 && serving[0]) assigned.set(serving[0].key, assigned.get(serving[0].key)! + left);
  }
  const plans = new Map<string, PoolPlan>();
  for (const pool of ordered) {
    const waiting = pool.models.reduce((sum, m) => sum + (waitingByModel.get(m) ?? 0), 0);
    plans.set(pool.key, planOne(pool, waiting, assigned.get(pool.key)!, now));
  }
  return plans;
}

function planOne(pool: PoolInput, waiting: number, assigned: number, now: number): PoolPlan {
  const demand = assigned + pool.inFlight;
  const wanted = Math.ceil(demand / pool.targetJobsPerReplica);
  const target = clamp(Math.max(wanted, pool.busyWorkers), pool.minReplicas, pool.maxReplicas);
  const base = { waiting, assigned, inFlight: pool.inFlight, wanted, target };
  const demandText = `demand ${demand} (waiting ${assigned}, in flight ${pool.inFlight}) / ${pool.targetJobsPerReplica} per replica`;
  if (target > pool.replicas) {
    return { ...base, replicas: target, reason: `scaled up from ${pool.replicas} to ${target}: ${demandText}${wanted > pool.maxReplicas ? ` (capped at maxReplicas ${pool.maxReplicas})` : ""}` };
  }
  if (target < pool.replicas) {
    const quietFor = pool.lastActivity === undefined ? Infinity : now - pool.lastActivity;
    if (quietFor < pool.scaleDownWindowMs) {
      return { ...base, replicas: pool.replicas, reason: `holding ${pool.replicas}: ${demandText}`, recheckInMs: pool.scaleDownWindowMs - quietFor };
    }
    // Within today's min/max: a lowered maxReplicas applies at once.
    const recent = (pool.recentTargets ?? []).filter(([at]) => now - at < pool.scaleDownWindowMs)
      .map(([at, t]) => [at, clamp(t, pool.minReplicas, pool.maxReplicas)] as const);
    const highs = recent.filter(([, t]) => t >= pool.replicas);
    if (highs.length) {
      const until = Math.max(...highs.map(([at]) => at)) + pool.scaleDownWindowMs - now;
      return { ...base, replicas: pool.replicas, reason: `holding ${pool.replicas}: ${demandText}, but ${Math.max(...highs.map(([, t]) => t))} wanted within ${Math.round(pool.scaleDownWindowMs / 1000)} s`, recheckInMs: until };
    }
    const replicas = Math.max(target, ...recent.map(([, t]) => t));
    const why = pool.busyWorkers > wanted ? `${pool.busyWorkers} workers still busy` : demandText;
    return { ...base, replicas, reason: `scaled down from ${pool.replicas} to ${replicas} after ${Math.round(pool.scaleDownWindowMs / 1000)} s without finished work: ${why}` };
  }
  return { ...base, replicas: target, reason: demandText };
}

/**
 * The targets of one pool's recent plans, for the scale-down's floor: a sliding-window maximum
 * kept as a deque of falling targets, so it holds few entries however often the pool is planned.
 */
export class TargetWindow {
  private readonly entries: [number, number][] = [];

  /** Remembers a plan's target; forgets what is older than `windowMs` or no higher than it. */
  add(at: number, target: number, windowMs: number): void {
    while (this.entries.length && this.entries.at(-1)![1] <= target) this.entries.pop();
    this.entries.push([at, target]);
    while (this.entries.length && at - this.entries[0]![0] >= windowMs) this.entries.shift();
  }

  get recent(): readonly (readonly [number, number])[] {
    return this.entries;
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
