import sharp from "sharp";
import { setTimeout as sleep } from "node:timers/promises";
import { JobFailure } from "../../common/errors.js";
import type { Runner, RunRequest, RunResult } from "../../worker/runner.js";

export interface FlipRunnerOptions {
  /** Time each run takes before its work, honouring the request's signal unless told not to. */
  delayMs?: number;
  ignoreSignal?: boolean;
  /** Runs that throw a plain Error before one succeeds. */
  failFirst?: number;
}

const TYPES = { png: "image/png", webp: "image/webp", jpeg: "image/jpeg" } as const;

/**
 * For tests and smoke runs only: a real image operation without a model. It mirrors the image
 * left to right and doubles its size with sharp, so a test can check both the pixels and the
 * dimensions of what the worker stored.
 */
export class FlipRunner implements Runner {
  calls = 0;
  readonly signals: (AbortSignal | undefined)[] = [];
  closed = false;

  constructor(private readonly opts: FlipRunnerOptions = {}) {}

  async run(req: RunRequest): Promise<RunResult> {
    this.calls++;
    this.signals.push(req.signal);
    if (this.opts.delayMs) await sleep(this.opts.delayMs, undefined, { signal: this.opts.ignoreSignal ? undefined : req.signal });
    if (this.calls <= (this.opts.failFirst ?? 0)) throw new Error(`flip runner failing on purpose (call ${this.calls})`);
    const meta = await sharp(req.input).metadata().catch((err: Error) => {
      throw new JobFailure("InvalidImage", `the input is not an image sharp can read: ${err.message}`);
    });
    if (!meta.width || !meta.height) throw new JobFailure("InvalidImage", "the input has no dimensions");
    const [width, height] = [meta.width * 2, meta.height * 2];
    req.onStage?.("inference");
    const image = sharp(req.input).flop().resize(width, height, { kernel: "nearest" });
    req.onStage?.("encode");
    const body = await image.toFormat(req.output.format, req.output.quality ? { quality: req.output.quality } : {}).toBuffer();
    return { body, contentType: TYPES[req.output.format], width, height };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
