import type { Clock } from "../../common/clock.js";
import type { ListWatchSource, WatchEvent } from "../../common/kube/list-watch.js";

/** A watch the test drives: it sends events and ends it. */
export class FakeWatch<T> {
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  readonly done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
  aborted = false;
  constructor(readonly resourceVersion: string, readonly send: (e: WatchEvent<T>) => void) {}
  end(err?: Error) {
    if (err) this.settle.reject(err);
    else this.settle.resolve();
  }
  abort() {
    this.aborted = true;
    this.settle.reject(new Error("aborted"));
  }
}

/** A source scripted by the test: queued lists (or their failures), and watches it can drive. */
export class FakeSource<T> implements ListWatchSource<T> {
  lists: Array<{ items: T[]; resourceVersion: string } | Error> = [];
  watches: Array<FakeWatch<T>> = [];
  watchFailures: Error[] = [];
  list() {
    const next = this.lists.shift() ?? { items: [], resourceVersion: "1" };
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
  watch(resourceVersion: string, onEvent: (e: WatchEvent<T>) => void) {
    const failure = this.watchFailures.shift();
    if (failure) return Promise.reject(failure);
    const w = new FakeWatch<T>(resourceVersion, onEvent);
    this.watches.push(w);
    return Promise.resolve({ done: w.done, abort: () => w.abort() });
  }
  get last(): FakeWatch<T> {
    return this.watches.at(-1)!;
  }
}

/** Timers that fire only when the test says so, and the delays they were set with. */
export class FakeClock implements Clock {
  time = 0;
  timers: Array<{ fn: () => void; ms: number }> = [];
  now = () => this.time;
  setTimeout = (fn: () => void, ms: number) => this.timers.push({ fn, ms });
  clearTimeout = () => {};
  fire() {
    const due = this.timers.splice(0);
    due.forEach((t) => t.fn());
  }
}

/** Lets the loop run until `condition` holds; throws if it never does. */
export async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error(`never came true: ${condition.toString()}`);
}
