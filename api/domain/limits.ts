import { TenantCapError } from "./errors.js";
import type { JobRepository, UploadCounter } from "./ports.js";
import type { Principal } from "./principal.js";

/** A tenant's own limits, set on its row; null takes the configured default (ADR 0009). */
export interface LimitOverrides {
  rateLimitPerMinute: number | null;
  maxActiveJobs: number | null;
  maxUploadBytesPerDay: number | null;
  /** Days a finished job's output and upload are kept (api/domain/retention.ts); not a request limit. */
  outputRetentionDays?: number | null;
}

/** The limits that hold for a tenant. */
export interface Limits {
  /** Requests a minute, per API key. */
  rateLimitPerMinute: number;
  /** Jobs pending, queued or running at once; each item of a batch counts as one. */
  maxActiveJobs: number;
  /** Bytes uploaded per UTC day. */
  maxUploadBytesPerDay: number;
}

/** The tenant's overrides where it has them, else the defaults. */
export function effectiveLimits(defaults: Limits, overrides?: Partial<LimitOverrides>): Limits {
  return {
    rateLimitPerMinute: overrides?.rateLimitPerMinute ?? defaults.rateLimitPerMinute,
    maxActiveJobs: overrides?.maxActiveJobs ?? defaults.maxActiveJobs,
    maxUploadBytesPerDay: overrides?.maxUploadBytesPerDay ?? defaults.maxUploadBytesPerDay,
  };
}

/** The UTC day of `now` (YYYY-MM-DD), naming its upload counter, and the seconds until it ends. */
export function utcDay(now: Date): { day: string; secondsLeft: number } {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return { day: now.toISOString().slice(0, 10), secondsLeft: Math.max(1, Math.ceil((next - now.getTime()) / 1000)) };
}

export interface TenantCapsDeps {
  defaults: Limits;
  jobs: Pick<JobRepository, "countActive">;
  uploads: UploadCounter;
  now?: () => Date;
}

/**
 * The per-tenant caps of the submit path: jobs not yet finished (counted in the Postgres mirror)
 * and bytes uploaded per UTC day (a counter in Redis). Both are soft under concurrency: submits
 * racing each other may pass the active-jobs cap by the few that raced.
 */
export class TenantCaps {
  constructor(private readonly deps: TenantCapsDeps) {}

  limits(principal: Principal): Limits {
    return effectiveLimits(this.deps.defaults, principal.limits);
  }

  /**
   * TenantCapError("active-jobs") when `items` more (a job: 1; a batch: its items) would take the
   * tenant's unfinished jobs past its cap. A batch's items count as jobs (countActive sums them).
   */
  async checkActiveJobs(principal: Principal, items = 1): Promise<void> {
    const limit = this.limits(principal).maxActiveJobs;
    const active = await this.deps.jobs.countActive(principal.namespace);
    if (active + items > limit) {
      const adding = items === 1 ? "" : `; this batch would add ${items}`;
      throw new TenantCapError("active-jobs", limit, `tenant ${principal.tenantName} has ${active} jobs (batch items included) pending, queued or running${adding}; at most ${limit} may be; wait for some to finish or cancel some`);
    }
  }

  /** Before an upload is read: TenantCapError("upload-bytes-per-day") when today's bytes have reached the cap. */
  async checkUploadRoom(principal: Principal): Promise<void> {
    const limit = this.limits(principal).maxUploadBytesPerDay;
    const { day, secondsLeft } = utcDay(this.now());
    const used = await this.deps.uploads.total(principal.tenantId, day);
    if (used >= limit) throw this.uploadCapError(principal, limit, secondsLeft);
  }

  /**
   * Counts a stored upload against today's bytes; when it takes the day over the cap it is taken
   * back off and TenantCapError is thrown (the caller deletes the upload).
   */
  async recordUpload(principal: Principal, bytes: number): Promise<void> {
    const limit = this.limits(principal).maxUploadBytesPerDay;
    const { day, secondsLeft } = utcDay(this.now());
    const total = await this.deps.uploads.add(principal.tenantId, day, bytes, secondsLeft);
    if (total > limit) {
      await this.deps.uploads.add(principal.tenantId, day, -bytes, secondsLeft);
      throw this.uploadCapError(principal, limit, secondsLeft);
    }
  }

  private uploadCapError(principal: Principal, limit: number, secondsLeft: number): TenantCapError {
    return new TenantCapError("upload-bytes-per-day", limit, `tenant ${principal.tenantName} may upload ${limit} bytes a day (UTC); this upload would pass that`, secondsLeft);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
