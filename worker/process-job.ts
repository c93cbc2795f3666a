import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { WaitingError, type Job } from "bullmq";
import { JobFailure } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { QueueJobData, QueueJobResult } from "../common/queue.js";
import type { ObjectStore } from "../common/storage/index.js";
import { isRetried } from "../common/job/failure-reasons.js";
import type { JobStage, ProgressReporter } from "../common/job/progress.js";
import { asJobFailure, toQueueError } from "./failure.js";
import type { InputFetcher } from "./input/input-fetcher.js";
import { outputKey, parseJobData } from "./job-data.js";
import { raceAbort } from "../common/race-abort.js";
import { processRegistry, type Registry } from "../common/metrics.js";
import { acceptRequestId } from "../common/request-id.js";
import { jobMetrics, type JobMetrics } from "./metrics.js";
import type { Runner } from "./runner.js";
import { ResultCache, type CachedOutput } from "./result-cache.js";
import { roundedTimings, StageClock, type StageTimings } from "./stage-timings.js";

export interface JobDeps {
  runner: Runner;
  input: InputFetcher;
  /** Where outputs go (the configured store). */
  store: ObjectStore;
  log: Logger;
  /**
   * Why the worker takes no jobs now (`stopping`, or `paused` while storage is away), if it does
   * not: a job it took anyway (a fetch already under way) is handed back, not run.
   */
  notTaking?: () => string | undefined;
  /** True when the job's cancel marker is set (worker/cancel-listener.ts): checked at start and before the output is written. */
  canceled?: (uid: string) => Promise<boolean>;
  /** Told as an attempt enters each stage; logged at debug level when absent. */
  progress?: ProgressReporter;
  /** PIXELMILL_GPUS: the GPUs of this worker's pod, for the result's usage (0 when absent). */
  gpus?: number;
  /** The result cache (ADR 0015); every job runs its model when absent. */
  resultCache?: ResultCache;
  /** Where pixelmill_jobs_total and pixelmill_job_stage_seconds go; the process's registry by default. */
  metrics?: Registry;
  /**
   * Told each attempt's stage times (worker/stage-timings.ts) as it ends, succeeded or failed:
   * benches and tests read them here; the attempt's last log line carries them too (stagesMs).
   */
  onStageTimings?: (uid: string, timings: StageTimings) => void;
}

export type JobProcessor = (job: Job<QueueJobData, QueueJobResult>, token?: string, signal?: AbortSignal) => Promise<QueueJobResult>;

/**
 * The BullMQ processor: one attempt of one job, logged once at its start and once at its end.
 * It declares BullMQ's third parameter, so BullMQ passes the signal that cancels a job.
 */
export function jobProcessor(deps: JobDeps): JobProcessor {
  const metrics = jobMetrics(deps.metrics ?? processRegistry());
  return async (job, token, signal) => {
    const attempt = job.attemptsMade + 1;
    const data = job.data as Partial<QueueJobData> | undefined;
    const fields = { model: data?.model, attempt };
    const model = typeof fields.model === "string" ? fields.model : "unknown";
    // Every line about the job carries its UID and the API request that made it (docs/metrics.md).
    const requestId = acceptRequestId(data?.requestId);
    const log = deps.log.child({ jobUid: job.id, ...(requestId ? { requestId } : {}) });
    const why = deps.notTaking?.();
    if (why && token && (await handBack(job, token))) {
      log.info({ ...fields, why }, "Job handed back");
      metrics.outcome(model, "handed_back");
      throw new WaitingError(); // BullMQ: the job was moved by hand, leave it where it is
    }
    const started = Date.now();
    if (job.attemptsMade === 0) metrics.waited(model, ((job.processedOn ?? started) - job.timestamp) / 1000);
    log.info(fields, "Job started");
    const clock = new StageClock();
    const stagesMs = () => {
      if (job.id) deps.onStageTimings?.(job.id, clock.timings);
      return roundedTimings(clock.timings);
    };
    try {
      // A batch item's marker is its batch's (the ImageJob's UID), not its queue job id.
      const markerUid = typeof data?.uid === "string" ? data.uid : job.id;
      if (markerUid && (await deps.canceled?.(markerUid))) throw new JobFailure("Canceled", "the job was canceled before it started");
      const result = await runAttempt({ ...deps, log }, job.data, attempt, signal, started, metrics, clock);
      log.info({ ...fields, durationMs: Date.now() - started, bytes: result.bytes, stagesMs: stagesMs() }, "Job succeeded");
      metrics.outcome(model, "succeeded", "", (Date.now() - started) / 1000);
      return result;
    } catch (err) {
      const failure = asJobFailure(err);
      const retry = isRetried(failure.reason);
      log.warn({ ...fields, durationMs: Date.now() - started, reason: failure.reason, retry, err: failure.message, stagesMs: stagesMs() }, "Job failed");
      metrics.outcome(model, "failed", failure.reason, (Date.now() - started) / 1000);
      throw toQueueError(failure);
    }
  };
}

/**
 * BullMQ's close() can still take a job that arrives while it disconnects. Nothing of it has run
 * yet: put it back at the head of its queue for another worker. False when that fails (Redis
 * going away too); the job then runs here, which delays the stop but loses nothing.
 */
async function handBack(job: Job<QueueJobData, QueueJobResult>, token: string): Promise<boolean> {
  return job.moveToWait(token).then(() => true, () => false);
}

async function runAttempt(
  deps: JobDeps, raw: unknown, attempt: number, cancel: AbortSignal | undefined, started: number, metrics: JobMetrics, clock: StageClock,
): Promise<QueueJobResult> {
  const data = parseJobData(raw);
  // A batch's progress is its counts (common/batch.ts), not every item's stages.
  const report = data.batch ? () => {} : deps.progress ?? ((p) => deps.log.debug(p, "Job progress"));
  const enter = (stage: JobStage) => {
    clock.enter(stage);
    report({ uid: data.uid, namespace: data.namespace, attempt, stage, elapsedMs: Date.now() - started });
  };
  const limit = data.timeoutSeconds ? AbortSignal.timeout(data.timeoutSeconds * 1000) : undefined;
  const signals = [cancel, limit].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length ? AbortSignal.any(signals) : undefined;
  try {
    // The race ends the attempt on time even when a step ignores the signal.
    return await raceAbort(steps(deps, data, attempt, signal, enter, started, metrics, clock), signal);
  } catch (err) {
    if (cancel?.aborted) throw new JobFailure("Canceled", "the job was canceled while it ran", { cause: err });
    if (limit?.aborted) throw new JobFailure("Timeout", `the attempt took longer than timeoutSeconds (${data.timeoutSeconds} s)`, { cause: err });
    throw err;
  } finally {
    metrics.timed(data.model, clock.end());
  }
}

/**
 * Writes the attempt's output, aborted with the attempt: a canceled attempt, or one out of time,
 * leaves no object (the fault suite counts a second output as a duplicate). A cancel that lands
 * while the bytes go up, or just after, deletes what was written before the attempt ends.
 */
async function writeOutput(deps: JobDeps, uid: string, key: string, write: () => Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  try {
    await write();
    if (await deps.canceled?.(uid)) throw new JobFailure("Canceled", "the job was canceled while its output was written");
    signal?.throwIfAborted();
  } catch (err) {
    await deps.store.delete(key).catch((cleanup: unknown) => deps.log.warn({ key, err: String(cleanup) }, "Could not delete the output of a lost attempt"));
    if (err instanceof JobFailure || signal?.aborted) throw err;
    throw new JobFailure("StorageError", `writing the output failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The attempt's usage: seconds from its start to its output written (millisecond precision), and those × the pod's GPUs. */
export function usageSince(started: number, gpus: number, now: number = Date.now()): QueueJobResult["usage"] {
  const runSeconds = Math.max(0, now - started) / 1000;
  return { runSeconds, gpus, gpuSeconds: Math.round(runSeconds * gpus * 1000) / 1000 };
}

async function steps(
  deps: JobDeps, data: QueueJobData, attempt: number, signal: AbortSignal | undefined, enter: (stage: JobStage) => void, started: number, metrics: JobMetrics,
  clock: StageClock,
): Promise<QueueJobResult> {
  enter("fetch");
  // A text-to-image job has no input: its params (prompt, seed) are all it is made from.
  const input = data.inputUri === undefined
    ? undefined
    : await deps.input.fetch({ uri: data.inputUri, namespace: data.namespace, inputBuckets: data.inputBuckets }, signal);
  const key = outputKey(data, attempt);
  const cacheKey = deps.resultCache && ResultCache.keyOf(data, input);
  if (deps.resultCache && cacheKey) {
    const hit = data.cache === false ? undefined : await cached(deps, deps.resultCache, cacheKey, data, key, signal, enter);
    metrics.cacheLookup(data.model, data.cache === false ? "skipped" : hit ? "hit" : "miss");
    if (hit) return hit;
  }
  // A run starts by decoding the input; the runner says when it moves on to inference and to encoding.
  enter("decode");
  const report = data.batch ? undefined : deps.progress;
  const out = await deps.runner.run({
    onStage: enter,
    // Steps of a long pipeline (diffusion), with an occasional preview: to SSE followers through Redis, nowhere else.
    ...(report ? { onStep: (step: { done: number; total: number }, preview?: string) => report({ uid: data.uid, namespace: data.namespace, attempt, stage: "inference", step, elapsedMs: Date.now() - started, ...(preview ? { preview } : {}) }) } : {}),
    timings: clock,
    modelName: data.model,
    modelVersion: data.modelVersion,
    modelSpec: data.modelSpec,
    input,
    params: data.params,
    output: data.output,
    signal,
  });
  // A canceled attempt, or one that ran out of time, writes nothing (a retry writes its own key).
  // The marker covers a cancel message this worker missed; the signal is checked last of all.
  if (await deps.canceled?.(data.uid)) throw new JobFailure("Canceled", "the job was canceled while it ran");
  signal?.throwIfAborted();
  enter("upload");
  const spooled = Buffer.isBuffer(out.body) ? undefined : out.body;
  try {
    const body = spooled ? createReadStream(spooled.path) : (out.body as Buffer);
    await writeOutput(deps, data.uid, key, () => deps.store.put(key, body, { contentType: out.contentType, signal }), signal);
  } finally {
    if (spooled) await rm(spooled.path, { force: true });
  }
  const output = { contentType: out.contentType, width: out.width, height: out.height, bytes: spooled?.bytes ?? (out.body as Buffer).length, ...(out.notes ? { notes: out.notes } : {}) };
  // A job that asked for no cache still records its result: it is as good as any for the next equal job.
  if (deps.resultCache && cacheKey) {
    await deps.resultCache.record(cacheKey, { key, ...output }).catch((err: unknown) => deps.log.warn({ err: String(err) }, "Could not record the result in the cache"));
  }
  return { usage: usageSince(started, deps.gpus ?? 0), uri: deps.store.uri(key), ...output, cached: false };
}

/**
 * The result of an equal earlier job, copied to this attempt's output key, or undefined on a
 * miss: no entry, the cache unreachable (logged), or an entry whose object is gone (dropped).
 */
async function cached(
  deps: JobDeps, cache: ResultCache, cacheKey: string, data: QueueJobData, key: string, signal: AbortSignal | undefined, enter: (stage: JobStage) => void,
): Promise<QueueJobResult | undefined> {
  const entry = await cache.lookup(cacheKey, data.namespace).catch((err: unknown) => {
    deps.log.warn({ err: String(err) }, "Could not read the result cache");
    return undefined;
  });
  if (!entry) return undefined;
  if (await deps.canceled?.(data.uid)) throw new JobFailure("Canceled", "the job was canceled while it ran");
  signal?.throwIfAborted();
  enter("upload");
  let copied = false;
  await writeOutput(deps, data.uid, key, async () => (copied = (await deps.store.copy(entry.key, key)) !== undefined), signal);
  if (!copied) {
    await cache.forget(cacheKey, entry).catch((err: unknown) => deps.log.warn({ err: String(err) }, "Could not drop a stale result cache entry"));
    return undefined;
  }
  return { usage: { runSeconds: 0, gpus: 0, gpuSeconds: 0 }, uri: deps.store.uri(key), ...outputOf(entry), cached: true };
}

function outputOf(entry: CachedOutput): Omit<CachedOutput, "key"> {
  const { key: _key, ...output } = entry;
  return output;
}
