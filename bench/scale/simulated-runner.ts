import { setTimeout as sleep } from "node:timers/promises";
import type { Runner, RunRequest, RunResult } from "../../worker/runner.js";

/** The image every simulated run returns: its bytes and what a real run would say of them. */
export interface SimulatedImage {
  body: Buffer;
  contentType: string;
  width: number;
  height: number;
}

/**
 * A Runner (worker/runner.ts) that runs no model: it waits a modelled inference time and returns
 * a fixed image. Everything around it (queue, presence, notifications, cancel, storage, the
 * result) is the real worker's, so a pod can be served without a process or a session of its own.
 */
export class SimulatedRunner implements Runner {
  constructor(private readonly delayMs: () => number, private readonly image: SimulatedImage) {}

  async run(req: RunRequest): Promise<RunResult> {
    req.onStage?.("inference");
    // A cancel or the attempt's deadline ends the wait as it would end a session run.
    await sleep(this.delayMs(), undefined, { signal: req.signal });
    req.onStage?.("encode");
    const { body, contentType, width, height } = this.image;
    return { body, contentType, width, height };
  }

  async close(): Promise<void> {}
}
