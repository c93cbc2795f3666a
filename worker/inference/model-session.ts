import ort from "onnxruntime-node";
import { JobFailure } from "../../common/errors.js";

export type ExecutionProvider = "cuda" | "webgpu" | "cpu";
export type Feeds = Record<string, ort.Tensor>;
export type Results = ort.InferenceSession.OnnxValueMapType;

/**
 * One loaded model on one execution provider. Runs go through `runBatch`, one batch at a time:
 * today every batch holds one job's feeds, but this is the seam where micro-batching will stack
 * concurrent jobs of the same model into one run. onnxruntime-node runs on the JS thread, so
 * queueing costs no parallelism; it also keeps GPU memory to one run's worth.
 */
export class ModelSession {
  private tail: Promise<unknown> = Promise.resolve();
  private released = false;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly ep: ExecutionProvider,
  ) {}

  get inputs(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.session.inputMetadata;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Feeds): Promise<Results> {
    const [results] = await this.runBatch([feeds]);
    return results!;
  }

  /** Runs each element of the batch in order, after the batches queued before it. */
  runBatch(batch: Feeds[]): Promise<Results[]> {
    const turn = this.tail.then(() => this.runNow(batch));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async runNow(batch: Feeds[]): Promise<Results[]> {
    if (this.released) throw new JobFailure("InferenceError", "the model's session was closed (the worker is stopping)");
    const out: Results[] = [];
    for (const feeds of batch) {
      try {
        out.push(await this.session.run(feeds));
      } catch (err) {
        throw new JobFailure("InferenceError", `onnxruntime (${this.ep}): ${(err as Error).message}`, { cause: err });
      }
    }
    return out;
  }

  /** Frees the native session once the queued runs are done. */
  async release(): Promise<void> {
    await this.tail;
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
