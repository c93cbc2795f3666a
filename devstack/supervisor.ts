import type { ExitStatus, Managed } from "./processes.js";

export interface RestartPolicyOptions {
  /** The wait before the first restart (default 1 s); it doubles with every crash. */
  initialDelayMs?: number;
  /** The longest wait between restarts (default 30 s). */
  maxDelayMs?: number;
  /** A process that stayed up this long (default 60 s) crashed "fresh": the wait starts over. */
  resetAfterMs?: number;
  /** This many exits within `crashWindowMs` and it is given up on (default 5 within 5 min). */
  maxCrashes?: number;
  crashWindowMs?: number;
}

export type RestartDecision = { restart: true; delayMs: number; crashes: number } | { restart: false; crashes: number };

/** Exponential backoff with a crash budget. Pure: the caller says how long the process was up and what time it is. */
export class RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly resetAfterMs: number;
  readonly maxCrashes: number;
  readonly crashWindowMs: number;
  private nextDelayMs: number;
  private crashTimes: number[] = [];

  constructor(opts: RestartPolicyOptions = {}) {
    this.initialDelayMs = opts.initialDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.resetAfterMs = opts.resetAfterMs ?? 60_000;
    this.maxCrashes = opts.maxCrashes ?? 5;
    this.crashWindowMs = opts.crashWindowMs ?? 5 * 60_000;
    this.nextDelayMs = this.initialDelayMs;
  }

  /** A process that was up `upMs` exited at `now`: restart it after `delayMs`, or give up. */
  onExit(upMs: number, now: number): RestartDecision {
    if (upMs >= this.resetAfterMs) this.nextDelayMs = this.initialDelayMs;
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < this.crashWindowMs), now];
    const crashes = this.crashTimes.length;
    if (crashes >= this.maxCrashes) return { restart: false, crashes };
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.maxDelayMs);
    return { restart: true, delayMs, crashes };
  }
}

export interface SuperviseOptions {
  /** How the messages name it (`api`). */
  name: string;
  /** Starts one process of it; a throw counts as a crash. */
  start: () => Managed;
  /** Where the exits, restarts and the giving up are told (npm run dev: loudly, on stderr). */
  log: (message: string) => void;
  /** It kept crashing and is no longer restarted; `message` says so (also given to `log`). */
  onGiveUp: (message: string) => void;
  policy?: RestartPolicyOptions;
}

export interface Supervised {
  readonly name: string;
  /** The process running now; undefined while waiting to restart, after giving up, or after stop(). */
  readonly current: Managed | undefined;
  /** Processes started so far, the first included. */
  readonly starts: number;
  /** Stops restarting it, and stops the running process (SIGTERM to its group, SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Keeps one process running: starts it, and when it exits without stop() having been asked for,
 * says so through `log` and starts it again after the policy's backoff; once it has crashed
 * `maxCrashes` times within the window it gives up and calls `onGiveUp`.
 */
export function supervise(opts: SuperviseOptions): Supervised {
  const policy = new RestartPolicy(opts.policy);
  let stopped = false;
  let current: Managed | undefined;
  let timer: NodeJS.Timeout | undefined;
  let starts = 0;

  const launch = () => {
    timer = undefined;
    if (stopped) return;
    const startedAt = Date.now();
    starts++;
    let proc: Managed;
    try {
      proc = opts.start();
    } catch (err) {
      return crashed(startedAt, `could not be started (${err instanceof Error ? err.message : String(err)})`);
    }
    current = proc;
    if (starts > 1) opts.log(`${opts.name} restarted (pid ${proc.pid})`);
    void proc.exitStatus.then(async (status) => {
      if (current === proc) current = undefined;
      if (stopped) return;
      await proc.stop(0); // anything it left in its process group
      crashed(startedAt, `${describeExit(status)} (pid ${proc.pid}, up ${formatMs(Date.now() - startedAt)})`);
    });
  };

  const crashed = (startedAt: number, what: string) => {
    if (stopped) return;
    const decision = policy.onExit(Date.now() - startedAt, Date.now());
    const window = formatMs(policy.crashWindowMs);
    if (!decision.restart) {
      stopped = true;
      const message = `${opts.name} ${what}; it exited ${decision.crashes} times within ${window}: giving up`;
      opts.log(message);
      opts.onGiveUp(message);
      return;
    }
    opts.log(`${opts.name} ${what}; restarting in ${formatMs(decision.delayMs)} (${decision.crashes} exit${decision.crashes === 1 ? "" : "s"} within ${window}; gives up at ${policy.maxCrashes})`);
    timer = setTimeout(launch, decision.delayMs);
  };

  launch();
  return {
    name: opts.name,
    get current() {
      return current;
    },
    get starts() {
      return starts;
    },
    async stop(graceMs?: number) {
      stopped = true;
      clearTimeout(timer);
      await current?.stop(graceMs);
    },
  };
}

/** `exited with code 3`, `exited with signal SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  if (status.code === -1) return "failed to start";
  return status.code !== null ? `exited with code ${status.code}` : `exited with signal ${status.signal ?? "?"}`;
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 6000) / 10} min`;
}
