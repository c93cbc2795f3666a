import { isDeepStrictEqual } from "node:util";
import type { ImageJob, ImageJobStatus, ImageModel } from "../../../common/crd-types.js";
import type { Logger } from "../../../common/logger.js";
import type { V1Namespace } from "@kubernetes/client-node";
import { grantedBuckets } from "../../../common/job/input-grants.js";
import { inputMismatch } from "../../../common/job/model-input.js";
import { parseInputUri } from "../../../common/job/input-uri.js";
import { isFinished } from "../../../common/job/phases.js";
import { operatorTtlSeconds } from "../../../common/job/retention.js";
import { failureReasonLabel } from "../../../common/job/failure-reasons.js";
import { operatorMetrics, type OperatorMetrics } from "../../../common/metrics.js";
import { acceptRequestId, REQUEST_ID_ANNOTATION } from "../../../common/request-id.js";
import type { QueueJobData } from "../../../common/queue.js";
import type { ImageJobApi } from "./imagejob-api.js";
import type { Informer } from "../../../common/kube/informer.js";
import type { JobQueue, QueueJobView } from "../../job-queue.js";
import { OwnWrites } from "../../runtime/own-writes.js";
import type { BatchReconciler } from "./batch-reconciler.js";
import { clean, deadlineExceededStatus, invalidSpecStatus, msToStartDeadline, statusFromQueue } from "./imagejob-status.js";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcilerDeps {
  jobs: Informer<ImageJob>;
  models: Informer<ImageModel>;
  /**
   * The Namespaces, whose `pixelmill.io/input-buckets` annotation grants the buckets a job's
   * `s3://` input may name; each job is enqueued with its namespace's grants. When absent, jobs
   * are enqueued without them and INPUT_BUCKETS alone decides, as before.
   */
  namespaces?: Informer<V1Namespace>;
  /** PIXELMILL_NAMESPACE: where the shared ImageModels live, for jobs whose namespace has no model of that name (ADR 0007). */
  platformNamespace?: string;
  api: ImageJobApi;
  queue: JobQueue;
  log: Logger;
  now?: () => Date;
  retryBaseDelayMs?: number;
  /** Whether a WorkerPool serves the model: a waiting job whose model none serves says so (reason NoWorkerPool). */
  serves?: (model: string) => boolean;
  /** Told after each enqueue, so the pools serving the model scale at once. */
  onEnqueued?: (model: string) => void;
  /** Where pixelmill_imagejob_failures_total goes; the process's registry by default. */
  metrics?: OperatorMetrics;
  /** Runs batch ImageJobs (spec.batch); without it (no storage configured) they fail InvalidSpec. */
  batches?: BatchReconciler;
  /**
   * Adds a key to the work queue: given, events of a job that arrive while its status write is
   * under way are held by isOwnWrite until the write answers, then added unless they were its echo.
   */
  requeue?: (key: string) => void;
}

/**
 * Reconciles one ImageJob key: check the spec, enqueue exactly once (queue job id = UID),
 * mirror the queue job's state into status, and delete the ImageJob once its TTL after
 * finishing has passed (its own, else the long fallback: the API's mirror deletes a job without
 * one soon after recording it, ADR 0018). Writes only when the status really changes: a
 * successful job costs create + Queued + Running + Succeeded + delete (one delete, whoever sends it).
 */
export class ImageJobReconciler {
  private readonly now: () => Date;
  /**
   * Our own last write per key, until the informer's cache shows it: without this, a reconcile
   * that runs right after a write (a worker's notification) reads the stale object, gets a 409,
   * and waits out a backoff; the Running phase of a short job would then be skipped.
   */
  private readonly written = new OwnWrites<ImageJob>();
  /**
   * Per key, the resourceVersion of our last status write until the watch brings it back. That
   * event carries nothing but what the writing reconcile decided (a change by anyone else has
   * another resourceVersion), and every later change of the queue job comes as a worker's
   * notification, so reconciling it again would only read the queue again: ~2 reconciles a job.
   */
  private readonly echoes = new Map<string, string>();
  /** Per key with a status write under way: the resourceVersions of the events held meanwhile. */
  private readonly writing = new Map<string, string[]>();
  private readonly metrics: OperatorMetrics;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.metrics = deps.metrics ?? operatorMetrics();
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split("/") as [string, string];
    const job = this.current(key, this.deps.jobs.get(namespace, name));
    if (!job || job.metadata.deletionTimestamp) return {};
    if (isFinished(job.status?.phase)) return this.expire(job);

    const { platformNamespace } = this.deps;
    const model = this.modelOf(job);
    const input = job.spec.input && parseInputUri(job.spec.input.uri);
    const invalid = !model
      ? `ImageModel "${job.spec.model}" not found in namespace ${namespace}${platformNamespace && platformNamespace !== namespace ? ` nor in the platform namespace ${platformNamespace}` : ""}`
      : input && "problem" in input ? input.problem : inputMismatch(job.spec.model, model.spec, input !== undefined || job.spec.batch !== undefined);
    if (invalid) {
      await this.write(job, invalidSpecStatus(job, invalid, this.now()), { reason: "InvalidSpec", message: invalid });
      return {};
    }

    if (job.spec.batch) return this.reconcileBatch(job, model!);

    let view = await this.deps.queue.get(job.spec.model, job.metadata.uid!);
    // Never enqueue a job already past its start deadline (the operator was down, say).
    if (!view && msToStartDeadline(job, job.status?.attempts ?? 0, this.now()) === 0) return this.failLate(job);
    if (!view) {
      // The namespace's grants go with the job; a namespace not in the cache yet (just created) is waited for.
      const ns = this.deps.namespaces?.get("", namespace);
      if (this.deps.namespaces && !ns) return { requeueAfterMs: 1000 };
      const inputBuckets = ns && grantedBuckets(ns.metadata?.annotations);
      // Not in the queue: never enqueued, or Redis lost it. Either way, (re-)enqueue.
      await this.deps.queue.enqueue(queueData(job, model!, inputBuckets), {
        maxAttempts: job.spec.maxAttempts ?? 3,
        priority: job.spec.priority ?? 0,
        retryBaseDelayMs: this.deps.retryBaseDelayMs ?? 2000,
      });
      view = { state: "waiting", attemptsMade: 0, attemptsStarted: 0 };
      this.logFor(job).info({ model: job.spec.model }, "Enqueued job");
      this.deps.onEnqueued?.(job.spec.model);
    }
    let requeueAfterMs: number | undefined;
    if (view.state === "waiting" || view.state === "delayed") {
      const left = msToStartDeadline(job, view.attemptsStarted, this.now());
      if (left === 0) {
        // Only a job still waiting is removed; one a worker took meanwhile runs, late but whole.
        if (await this.deps.queue.removeWaiting(job.spec.model, job.metadata.uid!)) return this.failLate(job);
        view = (await this.deps.queue.get(job.spec.model, job.metadata.uid!)) ?? view;
      } else if (left !== undefined) {
        requeueAfterMs = left;
      }
    }
    const unserved = this.deps.serves && !this.deps.serves(job.spec.model)
      ? `no WorkerPool lists model ${job.spec.model} in spec.models: the job waits until one does`
      : undefined;
    const next = statusFromQueue(job, view, this.now(), unserved);
    await this.write(job, next, eventFor(job.status, next, view));
    if (isFinished(next.phase)) return this.expire({ ...job, status: next });
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  /** A batch (docs/batch.md): its items are queue jobs of their own, its status their counts. */
  private async reconcileBatch(job: ImageJob, model: ImageModel): Promise<ReconcileResult> {
    const { batches, namespaces } = this.deps;
    if (!batches) {
      const message = "this operator runs without storage, so it cannot run batch jobs";
      await this.write(job, invalidSpecStatus(job, message, this.now()), { reason: "InvalidSpec", message });
      return {};
    }
    const ns = namespaces?.get("", job.metadata.namespace!);
    if (namespaces && !ns) return { requeueAfterMs: 1000 };
    const granted = ns && grantedBuckets(ns.metadata?.annotations);
    let last: ImageJobStatus | undefined;
    const enqueue = { maxAttempts: job.spec.maxAttempts ?? 3, priority: job.spec.priority ?? 0, retryBaseDelayMs: this.deps.retryBaseDelayMs ?? 2000 };
    const result = await batches.reconcile(job, queueData(job, model, granted), enqueue, granted, async (status, event) => {
      last = status;
      await this.write(job, status, event);
    });
    return last && isFinished(last.phase) ? this.expire({ ...job, status: last }) : result;
  }

  /** Failed with DeadlineExceeded: not started by creation + spec.startDeadlineSeconds. */
  private async failLate(job: ImageJob): Promise<ReconcileResult> {
    const status = deadlineExceededStatus(job, this.now());
    await this.write(job, status, { reason: "DeadlineExceeded", message: status.message ?? "" });
    this.logFor(job).info("Job missed its start deadline");
    return this.expire({ ...job, status });
  }

  private async expire(job: ImageJob): Promise<ReconcileResult> {
    const finished = Date.parse(job.status?.finishedAt ?? "");
    if (!Number.isFinite(finished)) return {};
    const ttlMs = operatorTtlSeconds(job) * 1000;
    const left = finished + ttlMs - this.now().getTime();
    if (left > 0) return { requeueAfterMs: left };
    await this.deps.api.deleteJob(job).catch((err: { code?: number }) => {
      if (err.code !== 404 && err.code !== 409) throw err; // gone already, or a new object by that name
    });
    this.logFor(job).info("Deleted finished job after its TTL");
    return {};
  }

  /**
   * True, once, for the watch event of our own last status write to this job: it needs no
   * reconcile. Also true for an event that comes while the job's write is under way (the watch
   * may bring the echo before the write's answer): the write's end adds it unless it was the echo.
   */
  isOwnWrite(job: ImageJob): boolean {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const rv = job.metadata.resourceVersion;
    if (rv === undefined) return false;
    const held = this.writing.get(key);
    if (held) {
      held.push(rv);
      return true;
    }
    // An event before it (an earlier write's echo, someone else's change) is reconciled as usual.
    if (this.echoes.get(key) !== rv) return false;
    this.echoes.delete(key);
    return true;
  }

  /** The job is gone: no echo of our write will come. */
  forgetWrites(job: ImageJob): void {
    this.echoes.delete(`${job.metadata.namespace}/${job.metadata.name}`);
  }

  /** resourceVersions are unique across objects, so a replaced object never matches our stale one. */
  private current(key: string, cached: ImageJob | undefined): ImageJob | undefined {
    const mine = this.written.pending(key, cached?.metadata.resourceVersion);
    return cached && (mine ?? cached);
  }

  private async write(job: ImageJob, status: ImageJobStatus, event?: { reason: string; message: string }): Promise<void> {
    const next = clean(status);
    if (isDeepStrictEqual(clean(job.status ?? {}), next)) return;
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const updated = await this.writeTracked(key, () => this.deps.api.writeStatus(job, next));
    this.written.remember(key, job.metadata.resourceVersion, updated);
    const log = this.logFor(job);
    log.info({ phase: next.phase, attempts: next.attempts, reason: next.reason }, "Updated job status");
    if (next.phase === "Failed" && job.status?.phase !== "Failed") {
      // A model the job names but no ImageModel defines is "unknown": names typed into a manifest never become label values.
      this.metrics.failures.inc({ model: this.modelOf(job) ? job.spec.model : "unknown", reason: failureReasonLabel(next.reason) });
    }
    if (event) {
      await this.deps.api.recordEvent(job, "Warning", event.reason, event.message, this.now()).catch((err: unknown) =>
        log.warn({ err: String(err) }, "Could not record event"));
    }
  }

  /** Runs the status write, holding the job's events meanwhile (isOwnWrite) and noting its echo to come. */
  private async writeTracked(key: string, write: () => Promise<ImageJob>): Promise<ImageJob> {
    const { requeue } = this.deps;
    if (requeue) this.writing.set(key, []);
    let mine: string | undefined;
    try {
      const updated = await write();
      mine = updated.metadata.resourceVersion;
      return updated;
    } finally {
      const held = this.writing.get(key) ?? [];
      this.writing.delete(key);
      if (held.some((rv) => rv !== mine)) requeue?.(key); // someone else's change came meanwhile
      // Bounded: an echo missed (a relist past a delete) must not keep its entry for ever.
      if (this.echoes.size >= MAX_ECHOES) this.echoes.clear();
      if (mine !== undefined && !held.includes(mine)) this.echoes.set(key, mine);
    }
  }

  /** The job's ImageModel: the namespace's own wins by name, else the platform's shared one. */
  private modelOf(job: ImageJob): ImageModel | undefined {
    const { platformNamespace, models } = this.deps;
    return models.get(job.metadata.namespace!, job.spec.model) ?? (platformNamespace ? models.get(platformNamespace, job.spec.model) : undefined);
  }

  /** Log lines about one job carry its key, its UID and the request id of the API call that made it. */
  private logFor(job: ImageJob): Logger {
    const requestId = requestIdOf(job);
    return this.deps.log.child({ job: `${job.metadata.namespace}/${job.metadata.name}`, jobUid: job.metadata.uid, ...(requestId ? { requestId } : {}) });
  }
}

/** Own writes awaiting their watch event, at most (a lost entry costs one reconcile). */
const MAX_ECHOES = 100_000;

/** Kubernetes Events only for failures and retries: each Event is an etcd write too. */
function eventFor(before: ImageJobStatus | undefined, next: ImageJobStatus, view: QueueJobView): { reason: string; message: string } | undefined {
  if (next.phase === "Failed") return { reason: next.reason ?? "Failed", message: `attempt ${view.attemptsStarted}: ${next.message ?? ""}` };
  const retrying = next.phase === "Queued" && view.attemptsMade > 0 && (before?.phase !== "Queued" || before.attempts !== next.attempts);
  if (retrying) return { reason: "Retrying", message: `attempt ${view.attemptsMade} failed (${next.reason}: ${next.message}); retrying` };
  return undefined;
}

/** The API request that created the job, from its annotation (absent for kubectl's jobs). */
function requestIdOf(job: ImageJob): string | undefined {
  return acceptRequestId(job.metadata.annotations?.[REQUEST_ID_ANNOTATION]);
}

function queueData(job: ImageJob, model: ImageModel, inputBuckets: string[] | undefined): QueueJobData {
  const requestId = requestIdOf(job);
  return {
    uid: job.metadata.uid!,
    namespace: job.metadata.namespace!,
    name: job.metadata.name!,
    model: job.spec.model,
    modelSpec: model.spec,
    modelVersion: model.metadata.resourceVersion ?? "",
    ...(job.spec.input ? { inputUri: job.spec.input.uri } : {}),
    params: job.spec.params ?? {},
    output: { format: job.spec.output?.format ?? "png", quality: job.spec.output?.quality },
    timeoutSeconds: job.spec.timeoutSeconds,
    ...(job.spec.cache === false ? { cache: false } : {}),
    ...(inputBuckets ? { inputBuckets } : {}),
    ...(requestId ? { requestId } : {}),
  };
}
