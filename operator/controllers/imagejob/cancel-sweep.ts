import type { Logger } from "../../../common/logger.js";
import type { CancelTarget } from "./cancel-jobs.js";
import type { JobQueue } from "../../job-queue.js";

export interface CancelSweepDeps {
  queue: JobQueue;
  cancel: (t: CancelTarget) => Promise<void>;
  /** UIDs of the ImageJobs in the synced cache. */
  known: () => ReadonlySet<string>;
  /** Asks the apiserver itself whether this very ImageJob (name and UID) exists. */
  exists: (namespace: string, name: string, uid: string) => Promise<boolean>;
  /** The namespace this operator watches; queue jobs of others are not its to cancel. */
  namespace?: string;
  /** Queue jobs younger than this are left alone: their ImageJob may not be in the cache yet. */
  graceMs: number;
  intervalMs: number;
  log: Logger;
  now?: () => number;
}

/**
 * Finds the deletes the operator missed (it was down, or its watch was): a queue job that has
 * not finished and whose ImageJob is neither in the cache nor, asked directly, in the apiserver
 * is canceled like a deleted one. The direct read guards a job just created whose event has not
 * arrived; the grace period spares most of those reads.
 */
export class CancelSweep {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly deps: CancelSweepDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.kick();
    this.timer = setInterval(() => this.kick(), this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every queue; resolves with the UIDs it canceled. */
  async sweep(): Promise<string[]> {
    const { queue, log } = this.deps;
    const known = this.deps.known();
    const canceled: string[] = [];
    for (const model of await queue.models()) {
      for (const id of await queue.unfinishedUids(model)) {
        // An item of a batch still known (`${uid}-${index}`) needs no read of its queue job.
        if (known.has(id) || known.has(id.replace(/-\d+$/, ""))) continue;
        // A batch item's id is not its ImageJob's UID: the ref names the batch, canceled once a pass.
        const ref = await queue.ref(model, id);
        if (!ref || known.has(ref.uid) || canceled.includes(ref.uid) || (this.deps.namespace && ref.namespace !== this.deps.namespace)) continue;
        const uid = ref.uid;
        if (this.now() - ref.enqueuedAt < this.deps.graceMs) continue;
        if (await this.deps.exists(ref.namespace, ref.name, uid)) continue;
        await this.deps.cancel(ref);
        canceled.push(uid);
      }
    }
    if (canceled.length) log.info({ canceled: canceled.length }, "Canceled queue jobs of deleted ImageJobs");
    return canceled;
  }

  private kick(): void {
    if (this.running) return; // a slow pass is not run twice at once
    this.running = this.sweep()
      .then(() => undefined, (err: unknown) => this.deps.log.warn({ err: (err as Error).message }, "Cancel sweep failed"))
      .finally(() => (this.running = undefined));
  }
}
