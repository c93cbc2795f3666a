import type ort from "onnxruntime-node";
import { JobFailure } from "../../common/errors.js";
import { hasDynamicBatch } from "./batch-feeds.js";
import { Batcher, type BatchPolicy } from "./batcher.js";

export type ExecutionProvider = "cuda" | "webgpu" | "cpu";
export type Feeds = Record<string, ort.Tensor>;
export type Results = ort.InferenceSession.OnnxValueMapType;

/** What a ModelSession runs on: a ThreadedSession in the worker, or an ort session itself. */
export interface SessionBackend {
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds): Promise<Results>;
  release(): Promise<void>;
  /** `listener` is called if the backend stops by itself (its thread died): it can no longer run. */
  onCrash?(listener: (err: Error) => void): void;
}

export interface RunOptions {
  /**
   * Lets this run share one native run with others of the same shape and params (batcher.ts):
   * the feed that carries the image, and the model's policy. Ignored unless that input's first
   * dimension is dynamic and maxBatchSize is over 1.
   */
  batch?: BatchPolicy & { input: string };
  /** A run still waiting for its batch fails with the signal's reason when it fires. */
  signal?: AbortSignal;
}

/** Told after each native run of a session: how many images it ran at once (1 when unbatched). */
export type RunObserver = (images: number) => void;

/** Runs one after another, in order: one queue per SessionCache, shared by its sessions. */
export class RunQueue {
  private tail: Promise<unknown> = Promise.resolve();

  push<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.tail.then(fn);
    this.tail = turn.catch(() => undefined);
    return turn;
  }
}

/**
 * One loaded model graph on one execution provider. The native run happens on the session's own
 * thread (threaded-session.ts), so the worker's JS thread keeps renewing job locks, answering
 * probes and hearing cancels meanwhile. Runs still go one at a time through the cache's
 * RunQueue, across models too, as when they ran on the JS thread: onnxruntime already uses every
 * core for one run, and GPU memory stays at one run's worth.
 *
 * A feed's buffer of 64 KiB or more is moved to the thread, not copied (tensor-wire.ts): such a
 * tensor is empty once passed to run, so build large feeds for each run.
 */
export class ModelSession {
  /** This session's runs not yet settled: release() waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private released = false;
  private batcher?: Batcher;

  constructor(
    private readonly session: SessionBackend,
    readonly ep: ExecutionProvider,
    private readonly queue: RunQueue = new RunQueue(),
    private readonly observe: RunObserver = () => undefined,
    /** Told once if batched runs turn out not to work for this graph. */
    private readonly onUnbatchable: (why: string) => void = () => undefined,
  ) {}

  get inputs(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.session.inputMetadata;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs after the runs queued before it (the cache's RunQueue), batched with others when `opts.batch` allows. */
  run(feeds: Feeds, opts: RunOptions = {}): Promise<Results> {
    const { batch } = opts;
    const turn = batch && this.batches(batch)
      ? this.batcherOf().run(feeds, batch.input, batch, opts.signal)
      : this.queue.push(() => this.runNow(feeds, 1));
    const settled = turn.then(() => undefined, () => undefined);
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return turn;
  }

  private batches(batch: NonNullable<RunOptions["batch"]>): boolean {
    return batch.maxBatchSize > 1 && hasDynamicBatch(this.inputs.find((i) => i.name === batch.input));
  }

  private batcherOf(): Batcher {
    return (this.batcher ??= new Batcher({
      turn: (fn) => this.queue.push(fn),
      runNow: (feeds, images) => this.runNow(feeds, images),
      onUnbatchable: this.onUnbatchable,
    }));
  }

  /** `listener` is called if the session dies under its own power; it is unusable from then on. */
  onCrash(listener: (err: Error) => void): void {
    this.session.onCrash?.(listener);
  }

  private async runNow(feeds: Feeds, images: number): Promise<Results> {
    if (this.released) throw new JobFailure("InferenceError", "the model's session was closed (the worker is stopping)");
    try {
      const results = await this.session.run(feeds);
      this.observe(images);
      return results;
    } catch (err) {
      // A thread that died already says so as a JobFailure.
      if (err instanceof JobFailure) throw err;
      throw new JobFailure("InferenceError", `onnxruntime (${this.ep}): ${(err as Error).message}`, { cause: err });
    }
  }

  /** Frees the native session (and its thread) once this session's queued runs are done. */
  async release(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
