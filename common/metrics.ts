import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export { Registry };

/**
 * Prometheus metrics (prom-client). One Registry per process, with the default process metrics;
 * each process serves it as text on `/metrics` (the API's express app, the worker's health server,
 * the operator's health server). Names carry their unit (`_seconds`, `_total`); labels are bounded
 * sets (models, routes, reasons, controllers), never job ids or raw paths.
 */
let shared: Registry | undefined;

/** This process's registry, with collectDefaultMetrics on it, made on first use. */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

const UNIT = /_(seconds|bytes|total|jobs|images|ratio|replicas|connections)$/;

function checkName(name: string, suffix?: RegExp): void {
  if (!name.startsWith("pixelmill_") || !UNIT.test(name) || (suffix && !suffix.test(name))) {
    throw new Error(`metric ${name}: name it pixelmill_<what>_<unit>`);
  }
}

/** A counter (name ending in `_total`), or the one of that name already in `registry`. */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  checkName(name, /_total$/);
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/** A histogram (name ending in its unit: `_seconds`, `_bytes`, `_images`), or the one already in `registry`. */
export function histogram<L extends string>(
  registry: Registry, name: string, help: string, labelNames: readonly L[], buckets?: number[],
): Histogram<L> {
  checkName(name, /_(seconds|bytes|images)$/);
  return (registry.getSingleMetric(name) as Histogram<L> | undefined) ?? new Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) });
}

/** A gauge, or the one already in `registry`. */
export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  checkName(name);
  return (registry.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge({ name, help, labelNames, registers: [registry] });
}

/** What a scraped gauge reads: a value per label set, computed when /metrics is asked for. */
export type GaugeReading<L extends string> = () => Iterable<readonly [Partial<Record<L, string>>, number]>;

const readingsOf = new WeakMap<object, Set<GaugeReading<string>>>();

/**
 * A gauge computed at scrape time from readings (an informer's cache, say), so nothing is counted
 * on a hot path. Each caller adds its reading and removes it when it stops; the values of
 * several readings (two operators in one test process) are summed.
 */
export function scrapedGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): { add(reading: GaugeReading<L>): () => void } {
  checkName(name);
  let metric = registry.getSingleMetric(name) as Gauge<L> | undefined;
  if (!metric) {
    const readings = new Set<GaugeReading<L>>();
    metric = new Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const reading of readings) for (const [labels, value] of reading()) this.inc(labels, value);
      },
    });
    readingsOf.set(metric, readings as Set<GaugeReading<string>>);
  }
  const readings = readingsOf.get(metric)! as Set<GaugeReading<L>>;
  return {
    add(reading) {
      readings.add(reading);
      return () => readings.delete(reading);
    },
  };
}

/** The answer to `GET /metrics`: the registry in Prometheus' text format. */
export async function metricsResponse(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** A histogram's buckets for request and stage durations: 5 ms to 10 min. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * The operator's metrics (operator/runtime/controller.ts, the ImageJob and WorkerPool
 * controllers). `pool` is a WorkerPool's `namespace/name`; `model` an ImageModel's name.
 */
export function operatorMetrics(registry: Registry = processRegistry()) {
  return {
    reconciles: counter(registry, "pixelmill_reconcile_total", "Reconciles by controller and result (success, requeue, conflict, error).", ["controller", "result"]),
    reconcileSeconds: histogram(registry, "pixelmill_reconcile_duration_seconds", "Time one reconcile took, by controller.", ["controller"], DURATION_BUCKETS),
    waitingJobs: gauge(registry, "pixelmill_queue_waiting_jobs", "Jobs waiting in a model's queue, as the autoscaler last read them.", ["model"]),
    oldestWaitingAge: gauge(registry, "pixelmill_queue_oldest_waiting_age_seconds", "Age of the oldest job waiting in a model's queue (0 when none), as the autoscaler last read it.", ["model"]),
    phaseJobs: scrapedGauge(registry, "pixelmill_imagejob_phase_jobs", "ImageJobs in the operator's cache by phase (every phase, 0 when none).", ["phase"]),
    failures: counter(registry, "pixelmill_imagejob_failures_total", "ImageJobs the operator marked Failed, by model and reason.", ["model", "reason"]),
    decisions: counter(registry, "pixelmill_autoscaler_decisions_total", "Autoscaler evaluations of a WorkerPool by direction (up, down, hold).", ["pool", "direction"]),
    desiredReplicas: gauge(registry, "pixelmill_workerpool_desired_replicas", "Replicas the autoscaler last set on a WorkerPool's Deployment.", ["pool"]),
    readyReplicas: gauge(registry, "pixelmill_workerpool_ready_replicas", "Ready replicas of a WorkerPool's Deployment, as last seen.", ["pool"]),
  };
}
export type OperatorMetrics = ReturnType<typeof operatorMetrics>;
