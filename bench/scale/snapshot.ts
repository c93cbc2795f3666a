import { basename } from "node:path";
import { loadavg } from "node:os";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Redis } from "ioredis";
import pg from "pg";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import { getText } from "../../devstack/controlplane.js";
import { descendants, procSample } from "./processes.js";
import { parseSamples, sumBy, type Sample } from "./prometheus.js";

/** Everything one moment of the run is compared by: counters are read twice, around a step. */
export interface Snapshot {
  at: number;
  /** apiserver_request_total by `verb resource` (resource with its group for our kinds). */
  requests: Map<string, number>;
  /** CPU seconds so far by `role pid` (role: operator, api, kube-apiserver, etcd, ...; `bench` is this process). */
  cpu: Map<string, number>;
  /** RSS by role (bytes). */
  rss: Map<string, number>;
  redis: { usedMemory: number; clients: number; commands: number };
  postgres?: { commits: number; inserted: number; updated: number; deleted: number };
  liveImageJobs: number;
  etcd?: { dbBytes: number; inUseBytes: number };
  operator?: OperatorStats;
  load1: number;
}

/** The operator's own /metrics: how busy its controllers are and how slow the apiserver answers it. */
export interface OperatorStats {
  /** pixelmill_reconcile_total and _duration_seconds_sum by controller. */
  reconciles: Map<string, number>;
  reconcileSeconds: Map<string, number>;
  /** pixelmill_kube_api_request_duration_seconds _count and _sum by verb. */
  kubeRequests: Map<string, number>;
  kubeSeconds: Map<string, number>;
  /** ImageJobs in its cache by phase, now. */
  phases: Map<string, number>;
}

export interface SnapshotSources {
  kc: KubeConfig;
  namespace: string;
  redis: Redis;
  databaseUrl?: string;
  /** Roles of the processes this bench started (operator, api) by pid; the rest are named by their command. */
  roles: ReadonlyMap<number, string>;
  operatorMetricsUrl?: string;
}

/** Reads every source once; a source that cannot be read is left out, not fatal. */
export async function snapshot(src: SnapshotSources): Promise<Snapshot> {
  const at = performance.now();
  const [requests, procs, redis, postgres, liveImageJobs, etcd, operator] = await Promise.all([
    apiserverRequests(src.kc), processes(src.roles), redisStats(src.redis),
    src.databaseUrl ? postgresStats(src.databaseUrl) : Promise.resolve(undefined),
    countImageJobs(src.kc, src.namespace), etcdSize(),
    src.operatorMetricsUrl ? operatorStats(src.operatorMetricsUrl) : Promise.resolve(undefined),
  ]);
  return { at, requests, ...procs, redis, postgres, liveImageJobs, etcd, operator, load1: loadavg()[0]! };
}

async function apiserverRequests(kc: KubeConfig): Promise<Map<string, number>> {
  const cluster = kc.getCurrentCluster()!;
  const token = kc.getCurrentUser()?.token ?? "";
  const { status, body } = await getText(`${cluster.server}/metrics`, Buffer.from(cluster.caData ?? "", "base64"), token);
  if (status !== 200) throw new Error(`GET /metrics of the apiserver answered ${status}`);
  return sumBy(parseSamples(body, ["apiserver_request_total"]), "apiserver_request_total", (l) => `${l.verb} ${l.resource}${l.subresource ? `/${l.subresource}` : ""}`);
}

/** CPU and RSS of this process and every process below it, summed by role. */
async function processes(roles: ReadonlyMap<number, string>): Promise<{ cpu: Map<string, number>; rss: Map<string, number> }> {
  const cpu = new Map<string, number>();
  const rss = new Map<string, number>();
  const add = (role: string, c: number, r: number) => {
    cpu.set(role, c);
    rss.set(role, (rss.get(role) ?? 0) + r);
  };
  const own = process.cpuUsage();
  add(`bench ${process.pid}`, (own.user + own.system) / 1e6, process.memoryUsage.rss());
  for (const { pid, cmdline } of await descendants(process.pid)) {
    const s = await procSample(pid);
    if (s) add(`${roles.get(pid) ?? commandName(cmdline)} ${pid}`, s.cpuSeconds, s.rssBytes);
  }
  return { cpu, rss };
}

/** A process by its program: postgres backends rename themselves (`postgres: walwriter`), redis-server shows its address. */
export function commandName(cmdline: readonly string[]): string {
  return basename((cmdline[0] ?? "?").split(/[\s:]/)[0]!);
}

async function redisStats(redis: Redis): Promise<Snapshot["redis"]> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? NaN);
  return { usedMemory: field("used_memory"), clients: field("connected_clients"), commands: field("total_commands_processed") };
}

async function postgresStats(url: string): Promise<Snapshot["postgres"]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ c: string; i: string; u: string; d: string }>(
      "select xact_commit as c, tup_inserted as i, tup_updated as u, tup_deleted as d from pg_stat_database where datname = current_database()");
    const r = rows[0]!;
    return { commits: Number(r.c), inserted: Number(r.i), updated: Number(r.u), deleted: Number(r.d) };
  } finally {
    await client.end();
  }
}

/** ImageJobs in etcd now: one list of one item, and the apiserver's count of the rest. */
async function countImageJobs(kc: KubeConfig, namespace: string): Promise<number> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, limit: 1 })) as {
    items: unknown[]; metadata?: { remainingItemCount?: number };
  };
  return list.items.length + (list.metadata?.remainingItemCount ?? 0);
}

async function operatorStats(url: string): Promise<OperatorStats | undefined> {
  const res = await fetch(url).catch(() => undefined);
  if (!res?.ok) return undefined;
  const samples = parseSamples(await res.text());
  return {
    reconciles: sumBy(samples, "pixelmill_reconcile_total", "controller"),
    reconcileSeconds: sumBy(samples, "pixelmill_reconcile_duration_seconds_sum", "controller"),
    kubeRequests: sumBy(samples, "pixelmill_kube_api_request_duration_seconds_count", "verb"),
    kubeSeconds: sumBy(samples, "pixelmill_kube_api_request_duration_seconds_sum", "verb"),
    phases: sumBy(samples, "pixelmill_imagejob_phase_jobs", "phase"),
  };
}

let etcdUrl: string | undefined;

/** etcd's own database size, from /metrics on its client URL (plain HTTP on loopback, as devstack/controlplane.ts starts it). */
async function etcdSize(): Promise<Snapshot["etcd"]> {
  etcdUrl ??= await findEtcd();
  if (!etcdUrl) return undefined;
  const res = await fetch(`${etcdUrl}/metrics`).catch(() => undefined);
  if (!res?.ok) return undefined;
  const samples: Sample[] = parseSamples(await res.text(), ["etcd_mvcc_db_total_size_in_bytes", "etcd_mvcc_db_total_size_in_use_in_bytes"]);
  const value = (name: string) => samples.find((s) => s.name === name)?.value ?? NaN;
  return { dbBytes: value("etcd_mvcc_db_total_size_in_bytes"), inUseBytes: value("etcd_mvcc_db_total_size_in_use_in_bytes") };
}

async function findEtcd(): Promise<string | undefined> {
  const etcd = (await descendants(process.pid)).find((p) => basename(p.cmdline[0] ?? "") === "etcd");
  return etcd?.cmdline.find((a) => a.startsWith("--listen-client-urls="))?.slice("--listen-client-urls=".length).split(",")[0];
}
