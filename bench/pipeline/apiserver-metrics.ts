import type { KubeConfig } from "@kubernetes/client-node";
import { getText } from "../../devstack/controlplane.js";
import { diffSamples, parseMetrics, type Sample } from "./prom.js";

/** The apiserver's verbs that write to etcd (its metrics spell them in capitals). */
export const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"]);

/** `apiserver_request_total` as the apiserver counts it, read from its own /metrics with the kubeconfig's credentials. */
export async function apiserverRequests(kc: KubeConfig): Promise<Sample[]> {
  const cluster = kc.getCurrentCluster();
  const token = kc.getCurrentUser()?.token;
  if (!cluster?.caData || !token) throw new Error("the stack's kubeconfig has no CA data or token");
  const { status, body } = await getText(`${cluster.server}/metrics`, Buffer.from(cluster.caData, "base64"), token);
  if (status !== 200) throw new Error(`GET /metrics of the apiserver answered ${status}`);
  return parseMetrics(body, ["apiserver_request_total"]);
}

/** What the apiserver served between two scrapes, one row per resource[/subresource], verb and outcome. */
export interface RequestRow {
  resource: string;
  verb: string;
  /** 2xx, or the code of a refusal (409 conflict, 404 gone...). */
  code: string;
  count: number;
}

export function requestRows(before: Sample[], after: Sample[]): RequestRow[] {
  const rows = new Map<string, RequestRow>();
  for (const s of diffSamples(before, after)) {
    const { resource = "?", subresource, verb = "?", code = "?" } = s.labels;
    const row: RequestRow = { resource: subresource ? `${resource}/${subresource}` : resource, verb, code: code.startsWith("2") ? "2xx" : code, count: 0 };
    const key = `${row.resource} ${row.verb} ${row.code}`;
    (rows.get(key) ?? rows.set(key, row).get(key)!).count += s.value;
  }
  return [...rows.values()].sort((a, b) => b.count - a.count);
}

/** Leases are the control plane's and the operator's heartbeats: counted apart from the platform's per-job writes. */
export const isLease = (r: RequestRow) => r.resource === "leases";
export const isWrite = (r: RequestRow) => WRITE_VERBS.has(r.verb);
