import type { Logger } from "../logger.js";
import { DependencyUnavailableError } from "../errors.js";

/** Resolves when the dependency can take work; `signal` aborts at the check's deadline. */
export type DependencyCheck = (signal: AbortSignal) => Promise<void>;

export interface DependencyMonitorOptions {
  /** By name, as /readyz and the problems name them: `storage`, `redis`. */
  checks: Record<string, DependencyCheck>;
  /** HEALTH_CHECK_INTERVAL_MS: between background checks of every dependency. */
  intervalMs: number;
  /** HEALTH_CHECK_TIMEOUT_MS: a check not done in this long counts as a failure. */
  timeoutMs: number;
  log: Logger;
  /** Told when a dependency is found unavailable, and when it is found available again. */
  onChange?: (name: string, available: boolean) => void;
}

interface Entry {
  state: "unknown" | "available" | "unavailable";
  /** Aborted when the dependency is found unavailable; a fresh one once it is back. */
  lost: AbortController;
  running?: Promise<boolean>;
}

/**
 * The health of the services work needs, checked in the background so that a caller reads the
 * last answer instead of paying a round trip: the API's submits (storage, Redis) and the worker's
 * taking of jobs (storage). While one is down, each `require` checks it again (one check at a
 * time, shared), so a recovery is seen by the first request after it.
 */
export class DependencyMonitor {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DependencyMonitorOptions) {
    for (const name of Object.keys(opts.checks)) this.entries.set(name, { state: "unknown", lost: new AbortController() });
  }

  start(): void {
    const refresh = () => {
      for (const name of this.entries.keys()) void this.probe(name);
    };
    refresh();
    this.timer = setInterval(refresh, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Checks `name` now, or joins the check under way; true when it is available. */
  probe(name: string): Promise<boolean> {
    const entry = this.entry(name);
    entry.running ??= this.run(name, entry).finally(() => (entry.running = undefined));
    return entry.running;
  }

  /** A /readyz check: rejects unless `name` is available now. */
  async verify(name: string): Promise<void> {
    if (!(await this.probe(name))) throw new DependencyUnavailableError(name);
  }

  async require(...names: string[]): Promise<void> {
    const down = names.filter((name) => this.entry(name).state === "unavailable");
    const back = await Promise.all(down.map((name) => this.probe(name)));
    const still = down.find((_, i) => !back[i]);
    if (still !== undefined) throw new DependencyUnavailableError(still);
  }

  signal(name: string): AbortSignal {
    // A dependent signal: held weakly by the entry's, so each caller's listeners go with it.
    return AbortSignal.any([this.entry(name).lost.signal]);
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`no dependency check named ${name}`);
    return entry;
  }

  private async run(name: string, entry: Entry): Promise<boolean> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error(`no answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    const expired = new Promise<never>((_, reject) => deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason as Error), { once: true }));
    let failure: unknown;
    try {
      await Promise.race([this.opts.checks[name]!(deadline.signal), expired]);
    } catch (err) {
      failure = err;
    } finally {
      clearTimeout(timer);
    }
    this.record(name, entry, failure);
    return failure === undefined;
  }

  /** Logs and signals changes only: a check every few seconds would otherwise fill the log. */
  private record(name: string, entry: Entry, failure: unknown): void {
    const was = entry.state;
    entry.state = failure === undefined ? "available" : "unavailable";
    if (entry.state === "unavailable" && was !== "unavailable") {
      this.opts.log.warn({ dependency: name, err: failure }, "Dependency unavailable");
      entry.lost.abort(new DependencyUnavailableError(name));
      this.opts.onChange?.(name, false);
    } else if (entry.state === "available" && was === "unavailable") {
      this.opts.log.info({ dependency: name }, "Dependency available again");
      entry.lost = new AbortController();
      this.opts.onChange?.(name, true);
    }
  }
}
