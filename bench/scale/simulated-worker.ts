import { loadConfig } from "../../common/config.js";
import type { Logger } from "../../common/logger.js";
import type { Registry } from "../../common/metrics.js";
import type { ContainerStarter, InProcessContainer } from "../../devstack/in-process-container.js";
import { startWorker } from "../../worker/worker.js";
import { SimulatedRunner, type SimulatedImage } from "./simulated-runner.js";

export interface SimulatedWorkersOptions {
  /** A sample of the modelled inference time (ms), per job. */
  delayMs: () => number;
  image: SimulatedImage;
  log: Logger;
  /** Where every simulated worker's job metrics go (one registry for all of them). */
  metrics: Registry;
}

/**
 * The pod runner's container for worker pods served in this process: the real worker
 * (worker/worker.ts: its consumer, presence, notifications, cancel listener, storage and health
 * monitor), configured from the pod's environment as a worker process is, with a SimulatedRunner
 * in place of the inference engine. Ready once its queues are consumed and its storage answers.
 */
export function simulatedWorkers(opts: SimulatedWorkersOptions): ContainerStarter {
  return async (pod, env) => {
    const config = loadConfig(env);
    const log = opts.log.child({ pod: pod.metadata?.name });
    const worker = await startWorker({ config, log, metrics: opts.metrics, createRunner: () => new SimulatedRunner(opts.delayMs, opts.image) });
    let stopping = false;
    let ended!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (ended = resolve));
    const container: InProcessContainer = {
      ready: () => !stopping && worker.storageAvailable(),
      exited,
      async stop() {
        stopping = true;
        await worker.stop();
        ended(0);
      },
    };
    return container;
  };
}
