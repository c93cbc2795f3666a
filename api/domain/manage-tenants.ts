import { NotFoundError, TenantExistsError, TenantProtectedError } from "./errors.js";
import type { LimitOverrides } from "./limits.js";
import type { Cluster, TenantRecord, TenantRepository } from "./ports.js";
import { PLATFORM_TENANT } from "./principal.js";

/**
 * Tenants are namespaces: creating one creates (or adopts) its namespace, labelled
 * `pixelmill.io/tenant=<name>`, then stores it. A namespace made but not stored (Postgres down)
 * is adopted by the retry.
 */
export class ManageTenants {
  constructor(private readonly deps: { tenants: TenantRepository; cluster: Cluster; now?: () => Date }) {}

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

  /**
   * Disables the tenant and revokes its keys, in one transaction: its keys are refused at once.
   * Its namespace, ImageJobs and job history stay. Idempotent (the first time is kept);
   * TenantProtectedError for the platform tenant, NotFoundError for an unknown name.
   */
  async disable(name: string): Promise<TenantRecord> {
    if (name === PLATFORM_TENANT) throw new TenantProtectedError(`the ${PLATFORM_TENANT} tenant holds the bootstrap admin key and cannot be disabled`);
    const tenant = await this.deps.tenants.disable(name, this.deps.now?.() ?? new Date());
    if (!tenant) throw new NotFoundError(`there is no tenant ${name}`);
    return tenant;
  }

  /** Sets the tenant's limit overrides (null: the configured default again); read with the key on the next request. */
  async setLimits(name: string, limits: Partial<LimitOverrides>): Promise<TenantRecord> {
    const tenant = await this.deps.tenants.setLimits(name, limits);
    if (!tenant) throw new NotFoundError(`there is no tenant ${name}`);
    return tenant;
  }
}
