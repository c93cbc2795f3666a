import type { Logger } from "../../common/logger.js";

interface SignalSource {
  on(signal: "SIGTERM" | "SIGINT", listener: (signal: NodeJS.Signals) => void): unknown;
}

/**
 * SIGTERM or SIGINT drains the worker and exits 0 (1 if draining failed); a second signal exits
 * at once, for an operator who will not wait. Kubernetes sends SIGTERM and waits
 * terminationGracePeriodSeconds, which should exceed the longest job.
 */
export function exitOnSignals(stop: () => Promise<void>, log: Logger, target: SignalSource = process, exit: (code: number) => void = (c) => process.exit(c)): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (draining) {
      log.warn({ signal }, "Second signal, exiting without draining");
      exit(130);
      return;
    }
    draining = true;
    log.info({ signal }, "Draining: finishing running jobs, taking no new ones");
    stop().then(
      () => {
        log.info("Worker stopped");
        exit(0);
      },
      (err: Error) => {
        log.error({ err: err.message }, "Worker stopped with an error");
        exit(1);
      },
    );
  };
  target.on("SIGTERM", onSignal);
  target.on("SIGINT", onSignal);
}
