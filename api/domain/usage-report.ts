import { MissingScopeError } from "./errors.js";
import type { JobRepository, UsageRow } from "./ports.js";
import { hasScope, type Principal } from "./principal.js";

export interface UsageQuery {
  /** First UTC day, YYYY-MM-DD. */
  from: string;
  /** Last UTC day, YYYY-MM-DD, included. */
  to: string;
  /** Every tenant's usage (`admin` only); else the caller's tenant's. */
  allTenants?: boolean;
}

export interface UsageReport {
  from: string;
  to: string;
  /** Per tenant per UTC day a job finished, days in order, then tenants by name; days without a succeeded job are left out. */
  items: UsageRow[];
}

const DAY_MS = 24 * 3600 * 1000;

/** Usage per tenant per UTC day (by finished_at): jobs succeeded, their run seconds and GPU-seconds. */
export class UsageReports {
  constructor(private readonly deps: { jobs: JobRepository }) {}

  async report(principal: Principal, q: UsageQuery): Promise<UsageReport> {
    if (q.allTenants && !hasScope(principal, "admin")) throw new MissingScopeError("admin");
    const from = new Date(`${q.from}T00:00:00Z`);
    const until = new Date(new Date(`${q.to}T00:00:00Z`).getTime() + DAY_MS);
    const items = q.allTenants
      ? await this.deps.jobs.usage({ from, until })
      : await this.deps.jobs.usage({ from, until, tenant: { name: principal.tenantName, namespace: principal.namespace } });
    return { from: q.from, to: q.to, items };
  }
}
