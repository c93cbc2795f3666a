import type { ImageModelSpec } from "../../common/crd-types.js";
import { batchKey, concatFeeds, splitResults } from "./batch-feeds.js";
import type { Feeds, Results } from "./model-session.js";
import { abortError } from "./pipelines/pipeline.js";

/** spec.batching with its defaults (the CRD's): off, and 5 ms when it is on. */
export const DEFAULT_MAX_BATCH_SIZE = 1;
export const DEFAULT_MAX_DELAY_MS = 5;

export interface BatchPolicy {
  maxBatchSize: number;
  maxDelayMs: number;
}

export function batchPolicy(spec: ImageModelSpec): BatchPolicy {
  return {
    maxBatchSize: spec.batching?.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
    maxDelayMs: spec.batching?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
  };
}

export interface BatcherDeps {
  /** Waits for the session's turn on its run queue (one native run at a time), then runs `fn`. */
  turn: <T>(fn: () => Promise<T>) => Promise<T>;
  /** One native run of `images` images, now (inside a turn). */
  runNow: (feeds: Feeds, images: number) => Promise<Results>;
  /** Told once when the graph turns out not to batch; the batcher runs every image alone from then on. */
  onUnbatchable?: (why: string) => void;
}

interface Member {
  feeds: Feeds;
  images: number;
  signal?: AbortSignal;
  resolve: (results: Results) => void;
  reject: (err: unknown) => void;
  unlisten: () => void;
}

interface Group {
  key: string;
  /** The feed that carries the images. */
  input: string;
  members: Member[];
  images: number;
  timer?: NodeJS.Timeout;
  scheduled: boolean;
  running: boolean;
}

/**
 * Triton's dynamic batcher, for one session: a run joins the open group of its key (batchKey:
 * same shape, same params); the group takes its turn on the run queue when it holds
 * `maxBatchSize` images or when `maxDelayMs` has passed since it opened, and keeps taking members
 * until the turn comes (a busy session gathers more). Each member gets its own outputs or its
 * own error: a member whose signal fires while waiting leaves at once, and a batch the graph
 * refuses is run again one member at a time, so only a bad member fails.
 */
export class Batcher {
  private readonly open = new Map<string, Group>();
  private batchable = true;

  constructor(private readonly deps: BatcherDeps) {}

  run(feeds: Feeds, input: string, policy: BatchPolicy, signal?: AbortSignal): Promise<Results> {
    const key = this.batchable ? batchKey(feeds, input) : undefined;
    const images = feeds[input]?.dims[0] ?? 1;
    if (key === undefined || images >= policy.maxBatchSize) return this.deps.turn(() => this.deps.runNow(feeds, images));
    return new Promise<Results>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      let group = this.open.get(key);
      if (group && group.images + images > policy.maxBatchSize) {
        this.close(group);
        group = undefined;
      }
      group ??= this.start(key, input, policy);
      const member: Member = { feeds, images, signal, resolve, reject, unlisten: () => undefined };
      if (signal) {
        const onAbort = (): void => this.leave(group, member);
        signal.addEventListener("abort", onAbort, { once: true });
        member.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      group.members.push(member);
      group.images += images;
      if (group.images >= policy.maxBatchSize) this.close(group);
    });
  }

  private start(key: string, input: string, policy: BatchPolicy): Group {
    const group: Group = { key, input, members: [], images: 0, scheduled: false, running: false };
    this.open.set(key, group);
    if (policy.maxDelayMs === 0) this.schedule(group);
    else group.timer = setTimeout(() => this.schedule(group), policy.maxDelayMs);
    return group;
  }

  /** No one joins any more. */
  private close(group: Group): void {
    if (this.open.get(group.key) === group) this.open.delete(group.key);
    this.schedule(group);
  }

  private schedule(group: Group): void {
    if (group.scheduled) return;
    group.scheduled = true;
    clearTimeout(group.timer);
    // execute settles every member itself; the turn's own promise carries nothing.
    void this.deps.turn(() => this.execute(group));
  }

  /** A member canceled or timed out while waiting: it fails now, and the batch runs without it. */
  private leave(group: Group, member: Member): void {
    if (group.running) return;
    const i = group.members.indexOf(member);
    if (i < 0) return;
    group.members.splice(i, 1);
    group.images -= member.images;
    member.reject(abortError(member.signal!));
    if (group.members.length === 0 && !group.scheduled) {
      clearTimeout(group.timer);
      if (this.open.get(group.key) === group) this.open.delete(group.key);
    }
  }

  private async execute(group: Group): Promise<void> {
    if (this.open.get(group.key) === group) this.open.delete(group.key);
    group.running = true;
    const members = group.members;
    for (const m of members) m.unlisten();
    if (members.length === 0) return;
    if (members.length === 1 || !this.batchable) return void (await this.oneByOne(members));
    let parts: Results[] | undefined;
    try {
      const results = await this.deps.runNow(concatFeeds(members.map((m) => m.feeds), group.input), group.images);
      parts = splitResults(results, members.map((m) => m.images));
      if (!parts) this.unbatchable("an output's first dimension is not the batch's");
    } catch {
      // Which member the graph refused is unknown: each runs alone, and only its own run can fail it.
      const ok = await this.oneByOne(members);
      if (ok === members.length) this.unbatchable("a batched run failed where each of its members ran alone");
      return;
    }
    if (!parts) return void (await this.oneByOne(members));
    members.forEach((m, i) => m.resolve(parts[i]!));
  }

  /** Runs each member alone, in order; returns how many succeeded. */
  private async oneByOne(members: readonly Member[]): Promise<number> {
    let ok = 0;
    for (const m of members) {
      try {
        m.resolve(await this.deps.runNow(m.feeds, m.images));
        ok++;
      } catch (err) {
        m.reject(err);
      }
    }
    return ok;
  }

  private unbatchable(why: string): void {
    if (!this.batchable) return;
    this.batchable = false;
    this.deps.onUnbatchable?.(why);
  }
}
