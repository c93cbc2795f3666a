import type ort from "onnxruntime-node";
import { JobFailure } from "../../common/errors.js";

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
  /** This session's last run: release() waits for it. */
  private last: Promise<unknown> = Promise.resolve();
  private released = false;

  constructor(
    private readonly session: SessionBackend,
    readonly ep: ExecutionProvider,
    private readonly queue: RunQueue = new RunQueue(),
  ) {}

  get inputs(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.session.inputMetadata;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs after the runs queued before it (the cache's RunQueue). */
  run(feeds: Feeds): Promise<Results> {
    const turn = this.queue.push(() => this.runNow(feeds));
    this.last = turn.catch(() => undefined);
    return turn;
  }

  /** `listener` is called if the session dies under its own power; it is unusable from then on. */
  onCrash(listener: (err: Error) => void): void {
    this.session.onCrash?.(listener);
  }

  private async runNow(feeds: Feeds): Promise<Results> {
    if (this.released) throw new JobFailure("InferenceError", "the model's session was closed (the worker is stopping)");
    try {
      return await this.session.run(feeds);
    } catch (err) {
      // A thread that died already says so as a JobFailure.
      if (err instanceof JobFailure) throw err;
      throw new JobFailure("InferenceError", `onnxruntime (${this.ep}): ${(err as Error).message}`, { cause: err });
    }
  }

  /** Frees the native session (and its thread) once this session's queued runs are done. */
  async release(): Promise<void> {
    await this.last;
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
