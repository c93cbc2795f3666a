import type { KubeConfig } from "@kubernetes/client-node";
import { apiserverRequests } from "./apiserver-metrics.js";
import { pgStats, type PgStats } from "./pg-stats.js";
import { parseMetrics, type Sample } from "./prom.js";
import { redisCalls } from "./redis-stats.js";

/** Every counter the bench compares before and after a run, each from the server that keeps it. */
export interface Counters {
  apiserver: Sample[];
  postgres: PgStats;
  redis: Map<string, number>;
  /**
   * The API's and the operator's own counts and times of their apiserver requests
   * (pixelmill_kube_api_request*) and of the API's HTTP requests (pixelmill_http_request_duration_seconds),
   * each labelled `source` with the page it came from.
   */
  kubeClients: Sample[];
}

export interface CounterSources {
  kc: KubeConfig;
  databaseUrl: string;
  redisUrl: string;
  /** The /metrics pages of the platform's processes that count their own apiserver requests, by a name for each. */
  clientMetricsUrls: Record<string, string>;
}

const CLIENT_METRICS = [
  "pixelmill_kube_api_requests_total", "pixelmill_kube_api_request_duration_seconds_sum", "pixelmill_kube_api_request_duration_seconds_count",
  "pixelmill_http_request_duration_seconds_sum", "pixelmill_http_request_duration_seconds_count",
];

export async function readCounters(src: CounterSources): Promise<Counters> {
  const [apiserver, postgres, redis, kubeClients] = await Promise.all([
    apiserverRequests(src.kc),
    pgStats(src.databaseUrl),
    redisCalls(src.redisUrl),
    Promise.all(Object.entries(src.clientMetricsUrls).map(async ([source, url]) =>
      parseMetrics(await (await fetch(url)).text(), CLIENT_METRICS).map((s) => ({ ...s, labels: { ...s.labels, source } })))).then((pages) => pages.flat()),
  ]);
  return { apiserver, postgres, redis, kubeClients };
}
