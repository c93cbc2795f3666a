import { basename } from "node:path";
import { descendants } from "../scale/processes.js";
import { parseMetrics } from "./prom.js";

/** etcd's database file (`total`) and the part of it holding live revisions (`inUse`), in bytes. */
export interface EtcdSize {
  total: number;
  inUse: number;
}

/**
 * The /metrics page of the etcd this process started (devstack/controlplane.ts: plain HTTP on a
 * loopback client URL), found from its command line; undefined when the stack runs none (an
 * existing cluster).
 */
export async function findEtcdMetrics(): Promise<string | undefined> {
  const etcd = (await descendants(process.pid)).find((p) => basename(p.cmdline[0] ?? "") === "etcd");
  const url = etcd?.cmdline.find((a) => a.startsWith("--listen-client-urls="))?.slice("--listen-client-urls=".length).split(",")[0];
  return url && `${url}/metrics`;
}

/** etcd's own etcd_mvcc_db_total_size_in_bytes and ..._in_use_in_bytes. */
export async function etcdSize(metricsUrl: string): Promise<EtcdSize> {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`GET ${metricsUrl} answered ${res.status}`);
  const samples = parseMetrics(await res.text(), ["etcd_mvcc_db_total_size_in_bytes", "etcd_mvcc_db_total_size_in_use_in_bytes"]);
  const value = (name: string) => samples.find((s) => s.name === name)?.value ?? NaN;
  return { total: value("etcd_mvcc_db_total_size_in_bytes"), inUse: value("etcd_mvcc_db_total_size_in_use_in_bytes") };
}
