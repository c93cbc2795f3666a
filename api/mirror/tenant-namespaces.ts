import type { TenantRepository } from "../domain/ports.js";

/**
 * The namespaces of this API's tenants, read from Postgres at most every `maxAgeMs` (one query
 * for all of them): the mirror deletes finished jobs only where it keeps their history. A
 * namespace not found is asked again after `missMaxAgeMs`, so a tenant made a moment ago counts.
 */
export class TenantNamespaces {
  private namespaces = new Set<string>();
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly tenants: Pick<TenantRepository, "list">,
    private readonly opts: { maxAgeMs?: number; missMaxAgeMs?: number; now?: () => number } = {},
  ) {}

  async has(namespace: string): Promise<boolean> {
    const age = this.now() - this.readAt;
    const stale = age > (this.opts.maxAgeMs ?? 60_000) || (!this.namespaces.has(namespace) && age > (this.opts.missMaxAgeMs ?? 2000));
    if (stale) await this.read();
    return this.namespaces.has(namespace);
  }

  /** One read for every caller waiting on it. */
  private read(): Promise<void> {
    this.reading ??= this.tenants.list().then((all) => {
      this.namespaces = new Set(all.map((t) => t.namespace));
      this.readAt = this.now();
    }).finally(() => (this.reading = undefined));
    return this.reading;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
