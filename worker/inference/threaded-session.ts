import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import ort from "onnxruntime-node";
import { firstLine, JobFailure } from "../../common/errors.js";
import type { ExecutionProvider, Feeds, Results, SessionBackend } from "./model-session.js";
import { errorFromWire, fromWire, toWire, type ThreadInit, type ThreadReply, type ThreadRequest } from "./tensor-wire.js";

interface Pending {
  resolve: (results: Results) => void;
  reject: (err: Error) => void;
}

/**
 * The main-thread side of an onnxruntime session that lives in its own worker thread
 * (session-thread.ts). onnxruntime-node's run is a synchronous native call: on the JS thread it
 * would stop BullMQ's lock renewals, presence heartbeats, the health server and cancel messages
 * for as long as a run lasts. The thread is unref'd while idle, so a cached session does not keep
 * the process alive, and ref'd while a run is in flight.
 */
export class ThreadedSession implements SessionBackend {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private releasing = false;
  /** Set once the thread has stopped without being asked to: every later run fails with it. */
  private crashed?: JobFailure;
  private readonly crashListeners: Array<(err: Error) => void> = [];

  private constructor(
    private readonly thread: Worker,
    readonly ep: ExecutionProvider,
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputNames: readonly string[],
  ) {
    thread.on("message", (reply: ThreadReply) => this.settle(reply));
    let error: Error | undefined;
    thread.on("error", (err: Error) => {
      error = err;
    });
    thread.on("exit", (code) => this.exited(code, error));
    thread.unref();
  }

  /**
   * Starts a thread that loads the model file at `path` on `ep`. Rejects with onnxruntime's own
   * error when the session cannot be created (the thread is ended first).
   */
  static async create(path: string, ep: ExecutionProvider): Promise<ThreadedSession> {
    const init: ThreadInit = { path, sessionOptions: { executionProviders: [ep] } };
    const { entry, eval: isEval } = threadEntry();
    const thread = new Worker(entry, { workerData: init, eval: isEval ?? false });
    let error: Error | undefined;
    const onError = (err: Error): void => void (error = err);
    thread.on("error", onError);
    const ready = await new Promise<Extract<ThreadReply, { kind: "ready" }>>((resolve, reject) => {
      const onMessage = (reply: ThreadReply): void => {
        if (reply.kind === "ready") resolve(reply);
        else if (reply.kind === "failed") reject(errorFromWire(reply.error));
      };
      const onExit = (code: number): void => reject(error ?? new Error(`the onnxruntime thread exited with code ${code} before its session was created`));
      thread.on("message", onMessage);
      thread.on("exit", onExit);
    }).finally(() => {
      thread.removeAllListeners("message");
      thread.removeAllListeners("exit");
    }).catch(async (err: unknown) => {
      // An "error" listener stays: without one, a late error would be thrown on this thread.
      await thread.terminate();
      throw err;
    });
    // The session's own listeners take over in its constructor, synchronously after this.
    thread.off("error", onError);
    return new ThreadedSession(thread, ep, ready.inputMetadata, ready.outputNames);
  }

  run(feeds: Feeds): Promise<Results> {
    if (this.crashed) return Promise.reject(this.crashed);
    if (this.releasing) return Promise.reject(new Error("the session was released"));
    const id = this.nextId++;
    const { wire, transfer } = toWire(feeds);
    return new Promise<Results>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.thread.ref();
      this.send({ kind: "run", id, feeds: wire }, transfer);
    });
  }

  /** Releases the native session, then ends the thread. Nothing to do when it already stopped. */
  async release(): Promise<void> {
    if (this.releasing || this.crashed) return;
    this.releasing = true;
    this.thread.ref();
    const released = new Promise<void>((resolve) => {
      this.thread.on("message", (reply: ThreadReply) => reply.kind === "released" && resolve());
      this.thread.once("exit", () => resolve());
    });
    this.send({ kind: "release" });
    await released;
    await this.thread.terminate();
  }

  /** `listener` is called once if the thread stops without being released. */
  onCrash(listener: (err: Error) => void): void {
    this.crashListeners.push(listener);
  }

  private send(request: ThreadRequest, transfer: ArrayBuffer[] = []): void {
    this.thread.postMessage(request, transfer);
  }

  private settle(reply: ThreadReply): void {
    if (reply.kind !== "result" && reply.kind !== "error") return;
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.thread.unref();
    if (reply.kind === "result") pending.resolve(fromWire(reply.outputs));
    else pending.reject(errorFromWire(reply.error));
  }

  private exited(code: number, error: Error | undefined): void {
    if (this.releasing) return;
    const why = error ? `: ${firstLine(error)}` : "";
    this.crashed = new JobFailure("InferenceError", `the onnxruntime thread (${this.ep}) stopped unexpectedly (exit code ${code})${why}`, { cause: error });
    for (const { reject } of this.pending.values()) reject(this.crashed);
    this.pending.clear();
    for (const listener of this.crashListeners) listener(this.crashed);
  }
}

/** The thread's entry beside this file: session-thread.ts from sources (tsx), .js once built. */
const THREAD_ENTRY = new URL(`./session-thread${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);

/**
 * Built, the entry runs as it is. From TypeScript sources the thread needs tsx too, and on Node 20
 * neither the parent's loader hooks nor `--import tsx` in `execArgv` reach a worker thread, so a
 * small bootstrap registers tsx's hooks inside the thread and then imports the entry. tsx is
 * resolved from this file, not from the working directory, which need not be the project's.
 */
function threadEntry(): { entry: URL | string; eval?: boolean } {
  if (!THREAD_ENTRY.pathname.endsWith(".ts")) return { entry: THREAD_ENTRY };
  const tsx = tsxApi().href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(THREAD_ENTRY.href)}); })`;
  return { entry: bootstrap, eval: true };
}

/** tsx's ESM API (register), from its package's export map: require.resolve would give the CommonJS one. */
function tsxApi(): URL {
  const require = createRequire(import.meta.url);
  const pkg = require("tsx/package.json") as { exports: Record<string, { import: { default: string } }> };
  return new URL(pkg.exports["./esm/api"]!.import.default, pathToFileURL(require.resolve("tsx/package.json")));
}
