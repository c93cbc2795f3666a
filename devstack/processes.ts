import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";

/** How a process ended: its exit code, or null and the signal that ended it (code -1: it could not be started). */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process of the harness, in its own process group, with its output in a log file. */
export interface Managed {
  name: string;
  pid: number;
  logPath: string;
  /** Its exit code once it ended; null when a signal ended it. */
  exited: Promise<number | null>;
  /** The same moment, with the signal. */
  exitStatus: Promise<ExitStatus>;
  stop(graceMs?: number): Promise<void>;
  /** The last lines of the log, for error messages. */
  tail(lines?: number): string;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this OS user (postgres refuses to run as root). */
  user?: string;
  /** Also show its output on this process's stdout/stderr (npm run dev). */
  inheritOutput?: boolean;
  /** Write its output to the log file and also to this process's stdout (through a pipe). */
  teeOutput?: boolean;
}

export function startProcess(opts: StartOptions): Managed {
  const [command, args] = opts.user ? ["runuser", ["-u", opts.user, "--", opts.command, ...opts.args]] : [opts.command, opts.args];
  const fd = opts.inheritOutput || opts.teeOutput ? undefined : openSync(opts.logPath, "a");
  const stdio = opts.teeOutput ? (["ignore", "pipe", "pipe"] as const) : fd === undefined ? (["ignore", "inherit", "inherit"] as const) : (["ignore", fd, fd] as const);
  // detached: its own process group, so stop() reaches everything it started.
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [...stdio], detached: true });
  if (fd !== undefined) closeSync(fd);
  if (opts.teeOutput) {
    const file = createWriteStream(opts.logPath, { flags: "a" });
    for (const out of [child.stdout, child.stderr]) {
      out?.on("data", (chunk: Buffer) => {
        file.write(chunk);
        process.stdout.write(chunk);
      });
    }
    child.once("close", () => file.end());
  }
  const exitStatus = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: -1, signal: null }));
  });
  // The listener above also keeps a failed spawn's "error" event from crashing this process.
  if (child.pid === undefined) throw new Error(`could not start ${opts.name} (${opts.command})`);
  const pid = child.pid;
  const exited = exitStatus.then((s) => s.code);
  guardAgainstOrphans(pid);
  return {
    name: opts.name,
    pid,
    logPath: opts.logPath,
    exited,
    exitStatus,
    stop: (graceMs = 10_000) => stopGroup(child, exited, graceMs),
    tail: (lines = 30) => tailFile(opts.logPath, lines),
  };
}

/** SIGTERM to the group, SIGKILL after `graceMs`; once the leader is gone (or was already), SIGKILL to whatever it left in its group. */
async function stopGroup(child: ChildProcess, exited: Promise<number | null>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return signalGroup(child.pid!, "SIGKILL");
  signalGroup(child.pid!, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  signalGroup(child.pid!, "SIGKILL"); // anything the leader left behind in its group
}

/** Sends `signal` to the process group `pid` leads (a Managed process and all it started); nothing if it is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * If this Node process dies without running its teardown (SIGKILL, a crash), a small shell
 * watchdog kills the child's process group, so no etcd or apiserver outlives a test run.
 */
function guardAgainstOrphans(pid: number): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -TERM -${pid} 2>/dev/null; sleep 5; kill -KILL -${pid} 2>/dev/null; exit 0`;
  spawn("sh", ["-c", script], { detached: true, stdio: "ignore" }).unref();
}

export function tailFile(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `check` until it resolves true, failing with `describe()` after `timeoutMs` or if `exited` settles first. */
export async function waitUntil(what: string, check: () => Promise<boolean>, opts: { timeoutMs: number; process?: Managed }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let gone = false;
  void opts.process?.exited.then(() => (gone = true));
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    if (await check().catch(() => false)) return;
    const log = opts.process ? `\n--- ${opts.process.name} log (${opts.process.logPath}) ---\n${opts.process.tail()}` : "";
    if (gone) throw new Error(`${opts.process!.name} exited before ${what}${log}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${log}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** True while a process with this pid exists (signal 0 only asks). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
