import type { Logger } from "../../common/logger.js";
import type { ObjectStore } from "../../common/storage/index.js";
import type { JobPage } from "../domain/job-queries.js";
import type { ImageJobOutput } from "../../common/crd-types.js";
import type { JobRecord } from "../domain/job-record.js";
import type { QueuePositions } from "../domain/queue-position.js";
import type { OutputRetention } from "../domain/retention.js";
import type { JobListView, JobStatus, JobSummary, JobUrls, JobView } from "./schemas.js";

// The shapes live in schemas.ts, where the OpenAPI document and the client read them too.
export type { JobListView, JobStatus, JobSummary, JobUrls, JobView } from "./schemas.js";

export interface JobPresenterOptions {
  store: ObjectStore;
  /** PUBLIC_URL */
  publicUrl: string;
  /** OUTPUT_URL_TTL_SECONDS */
  outputUrlTtlSeconds: number;
  log: Logger;
  /** Where waiting jobs stand in their queues; none: `queue` is always null. */
  positions?: Pick<QueuePositions, "of">;
  /** Days outputs are kept, per namespace, for `output.expires_at`; none: expires_at is null. */
  retention?: Pick<OutputRetention, "daysFor">;
  now?: () => number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Job records as the API shows them: lower-case statuses, snake_case fields, absolute links, signed output URLs. */
export class JobPresenter {
  private readonly base: string;
  private readonly now: () => number;

  constructor(private readonly opts: JobPresenterOptions) {
    this.base = opts.publicUrl.replace(/\/+$/, "");
    this.now = opts.now ?? Date.now;
  }

  summary(r: JobRecord): JobSummary {
    return { id: r.uid, status: statusOf(r), model: r.model, created_at: r.createdAt.toISOString(), urls: this.urls(r.uid) };
  }

  async view(r: JobRecord): Promise<JobView> {
    const { urls, ...summary } = this.summary(r);
    const [output, queue] = await Promise.all([this.output(r), this.queue(r)]);
    return {
      ...summary,
      attempts: r.attempts,
      queued_at: iso(r.queuedAt),
      started_at: iso(r.startedAt),
      finished_at: iso(r.finishedAt),
      error: r.error,
      output,
      queue,
      batch: this.batch(r),
      input: { uri: r.batch ? null : r.inputUri, filename: r.batch ? null : r.inputFilename ?? null },
      params: r.params,
      imagejob: { namespace: r.namespace, name: r.name },
      usage: r.runSeconds === null && r.gpuSeconds === null ? null : { run_seconds: r.runSeconds, gpu_seconds: r.gpuSeconds },
      urls,
    };
  }

  /** A batch job's counts and links; null for a single job. */
  batch(r: JobRecord): JobView["batch"] {
    if (!r.batch) return null;
    const { total, succeeded, failed, running, canceled } = r.batch;
    const self = `${this.base}/v1/jobs/${r.uid}`;
    return { total, succeeded, failed, running, canceled, items_url: `${self}/items`, manifest_url: `${self}/manifest` };
  }

  async page(p: JobPage): Promise<JobListView> {
    return { items: await Promise.all(p.items.map((r) => this.view(r))), next_cursor: p.nextCursor };
  }

  /** The job's place in its queue while it waits; null otherwise, or when the queue cannot tell. */
  async queue(r: JobRecord): Promise<JobView["queue"]> {
    const q = await this.opts.positions?.of(r);
    if (!q) return null;
    return { position: q.position, waiting: q.waiting, estimated_start_at: iso(q.estimatedStartAt) };
  }

  private async output(r: JobRecord): Promise<JobView["output"]> {
    if (r.phase !== "Succeeded" || !r.output) return null;
    return this.outputView(r, r.output);
  }

  /** An output of job `r` (its own, or one of its batch items'): signed unless retention deleted it. */
  async outputView(r: JobRecord, o: ImageJobOutput): Promise<NonNullable<JobView["output"]>> {
    const expiredAt = r.outputExpiredAt ?? null;
    const [link, expiresAt] = expiredAt
      ? [undefined, null]
      : await Promise.all([o.uri ? this.presign(r.uid, o.uri) : undefined, this.expiresAt(r)]);
    return {
      content_type: o.contentType ?? null,
      width: o.width ?? null,
      height: o.height ?? null,
      bytes: o.bytes ?? null,
      url: link?.url ?? null,
      url_expires_at: link?.expiresAt ?? null,
      expires_at: expiresAt,
      expired_at: iso(expiredAt),
      notes: o.notes ?? [],
      cached: o.cached ?? false,
    };
  }

  /** finished_at plus the namespace's retention; null when unknown. */
  private async expiresAt(r: JobRecord): Promise<string | null> {
    if (!r.finishedAt || !this.opts.retention) return null;
    const days = await this.opts.retention.daysFor(r.namespace);
    return new Date(r.finishedAt.getTime() + days * 86_400_000).toISOString();
  }

  private async presign(uid: string, uri: string): Promise<{ url: string; expiresAt: string } | undefined> {
    const key = this.opts.store.keyOf(uri);
    if (key === undefined) {
      this.opts.log.warn({ job: uid, uri }, "Output is outside the configured store, no URL given");
      return undefined;
    }
    const ttl = this.opts.outputUrlTtlSeconds;
    const expiresAt = new Date(this.now() + ttl * 1000).toISOString();
    try {
      return { url: await this.opts.store.presignGet(key, ttl), expiresAt };
    } catch (err) {
      this.opts.log.error({ job: uid, err }, "Could not sign the output URL");
      return undefined;
    }
  }

  private urls(uid: string): JobUrls {
    return { self: `${this.base}/v1/jobs/${uid}`, events: `${this.base}/v1/jobs/${uid}/events` };
  }
}

export function statusOf(r: Pick<JobRecord, "phase">): JobStatus {
  return r.phase.toLowerCase() as JobStatus;
}
