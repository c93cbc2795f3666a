import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, startProcess } from "./processes.js";
import { RestartPolicy, supervise, type Supervised } from "./supervisor.js";

describe("RestartPolicy", () => {
  it("doubles the wait from 1 s up to 30 s", () => {
    const policy = new RestartPolicy({ maxCrashes: 100 });
    const delays = Array.from({ length: 8 }, (_, i) => policy.onExit(100, i * 1000)).map((d) => (d.restart ? d.delayMs : -1));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("starts the wait over after a process stayed up 60 s", () => {
    const policy = new RestartPolicy({ maxCrashes: 100 });
    policy.onExit(100, 0);
    policy.onExit(100, 1000);
    expect(policy.onExit(100, 2000)).toMatchObject({ restart: true, delayMs: 4000 });
    expect(policy.onExit(60_000, 70_000)).toMatchObject({ restart: true, delayMs: 1000 });
    expect(policy.onExit(100, 71_000)).toMatchObject({ restart: true, delayMs: 2000 });
  });

  it("gives up at the 5th exit within 5 min; older exits fall out of the window", () => {
    const policy = new RestartPolicy();
    for (let i = 0; i < 4; i++) expect(policy.onExit(100, i * 10_000)).toMatchObject({ restart: true, crashes: i + 1 });
    expect(policy.onExit(100, 299_999)).toEqual({ restart: false, crashes: 5 });

    const spread = new RestartPolicy();
    // One exit every 80 s: never 5 within 5 min.
    for (let i = 0; i < 10; i++) expect(spread.onExit(100, i * 80_000).restart).toBe(true);
  });
});

describe("supervise (real child processes)", () => {
  let dir: string;
  const running: Supervised[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pixelmill-supervisor-"));
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop(1000)));
    await rm(dir, { recursive: true, force: true });
  });

  const node = (name: string, script: string) => () =>
    startProcess({ name, command: process.execPath, args: ["-e", script], logPath: join(dir, `${name}.log`) });

  it("restarts a process that exits with backoff, says so, and gives up after too many exits", async () => {
    const lines: string[] = [];
    const gaveUp = vi.fn();
    const pids: number[] = [];
    const start = node("exits-3", "process.exit(3)");
    const sup = supervise({
      name: "exits-3",
      start: () => {
        const proc = start();
        pids.push(proc.pid);
        return proc;
      },
      log: (m) => lines.push(m),
      onGiveUp: gaveUp,
      policy: { initialDelayMs: 50, maxDelayMs: 200, maxCrashes: 4, crashWindowMs: 60_000 },
    });
    running.push(sup);
    await vi.waitFor(() => expect(gaveUp).toHaveBeenCalledOnce(), { timeout: 20_000, interval: 50 });
    expect(sup.starts).toBe(4);
    expect(new Set(pids).size).toBe(4);
    expect(lines.filter((l) => /^exits-3 exited with code 3 \(pid \d+, up .*\); restarting in/.test(l))).toHaveLength(3);
    expect(lines.filter((l) => /^exits-3 restarted \(pid \d+\)$/.test(l))).toHaveLength(3);
    expect(lines.find((l) => l.includes("restarting in"))).toContain("restarting in 50 ms");
    expect(lines.filter((l) => l.includes("restarting in"))[2]).toContain("restarting in 200 ms");
    expect(gaveUp.mock.calls[0]![0]).toMatch(/^exits-3 exited with code 3 .*exited 4 times within 60 s: giving up$/);
    expect(lines.at(-1)).toBe(gaveUp.mock.calls[0]![0]);
    // Given up: nothing more is started.
    await new Promise((r) => setTimeout(r, 500));
    expect(sup.starts).toBe(4);
    expect(sup.current).toBeUndefined();
  });

  it("brings back a process killed with SIGKILL, and stop() ends it for good", async () => {
    const lines: string[] = [];
    const gaveUp = vi.fn();
    const sup = supervise({
      name: "server",
      start: node("server", "setInterval(() => {}, 1000)"),
      log: (m) => lines.push(m),
      onGiveUp: gaveUp,
      policy: { initialDelayMs: 50 },
    });
    running.push(sup);
    const first = sup.current!.pid;
    expect(isAlive(first)).toBe(true);
    process.kill(first, "SIGKILL");
    await vi.waitFor(() => expect(sup.current?.pid ?? first).not.toBe(first), { timeout: 10_000, interval: 20 });
    expect(lines[0]).toMatch(new RegExp(`^server exited with signal SIGKILL \\(pid ${first}, up .*\\); restarting in 50 ms \\(1 exit within 5 min; gives up at 5\\)$`));
    const second = sup.current!.pid;
    expect(isAlive(second)).toBe(true);

    await sup.stop(5000);
    expect(isAlive(second)).toBe(false);
    expect(sup.current).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(sup.starts).toBe(2);
    expect(gaveUp).not.toHaveBeenCalled();
    expect(lines.filter((l) => l.includes("exited"))).toHaveLength(1); // the stop is not a crash
  });

  it("stop() during the wait before a restart cancels the restart", async () => {
    const lines: string[] = [];
    const sup = supervise({
      name: "quick",
      start: node("quick", "process.exit(1)"),
      log: (m) => lines.push(m),
      onGiveUp: () => {},
      policy: { initialDelayMs: 1000 },
    });
    running.push(sup);
    await vi.waitFor(() => expect(lines[0]).toMatch(/^quick exited with code 1 .*restarting in 1 s/), { timeout: 10_000, interval: 20 });
    await sup.stop();
    await new Promise((r) => setTimeout(r, 1500));
    expect(sup.starts).toBe(1);
  });

  it("counts a process that cannot be started as a crash", async () => {
    const lines: string[] = [];
    const gaveUp = vi.fn();
    const sup = supervise({
      name: "missing",
      start: () => startProcess({ name: "missing", command: join(dir, "no-such-binary"), args: [], logPath: join(dir, "missing.log") }),
      log: (m) => lines.push(m),
      onGiveUp: gaveUp,
      policy: { initialDelayMs: 20, maxCrashes: 2 },
    });
    running.push(sup);
    await vi.waitFor(() => expect(gaveUp).toHaveBeenCalledOnce(), { timeout: 10_000, interval: 20 });
    expect(lines[0]).toMatch(/^missing (could not be started|failed to start)/);
  });
});
