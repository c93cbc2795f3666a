import { TenantExistsError } from "./errors.js";
import type { Cluster, TenantRecord, TenantRepository } from "./ports.js";

/**
 * Tenants are namespaces: creating one creates (or adopts) its namespace, labelled
 * `pixelmill.io/tenant=<name>`, then stores it. A namespace made but not stored (Postgres down)
 * is adopted by the retry.
 */
export class ManageTenants {
  constructor(private readonly deps: { tenants: TenantRepository; cluster: Cluster }) {}

  async create(req: { name: string; namespace?: string }): Promise<TenantRecord> {
    const namespace = req.namespace ?? req.name;
    // Checked before the namespace is touched, so a taken name or namespace never relabels anything.
    if (await this.deps.tenants.byName(req.name)) throw new TenantExistsError(`there is a tenant named ${req.name} already`);
    const owner = await this.deps.tenants.byNamespace(namespace);
    if (owner) throw new TenantExistsError(`namespace ${namespace} is tenant ${owner.name}'s already`);
    await this.deps.cluster.ensureNamespace(namespace, req.name);
    return this.deps.tenants.create({ name: req.name, namespace });
  }

  list(): Promise<TenantRecord[]> {
    return this.deps.tenants.list();
  }
}
