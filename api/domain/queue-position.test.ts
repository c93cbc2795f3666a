import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { estimateStart, QueuePositions, type QueueStanding, type QueueStandings } from "./queue-position.js";

const log = createLogger({ level: "silent" });
const NOW = Date.parse("2026-12-01T12:00:00Z");
const WINDOW = 5 * 60_000;

/** Pure logic: the standings are given, as Redis would answer them. */
function positions(answer: () => Promise<QueueStanding | undefined>): { positions: QueuePositions; asked: number[] } {
  const asked: number[] = [];
  const standings: QueueStandings = {
    standing: (_model, _uid, since) => {
      asked.push(since);
      return answer();
    },
  };
  return { positions: new QueuePositions({ standings, log, now: () => NOW, windowMs: WINDOW }), asked };
}

const job = (phase: "Pending" | "Queued" | "Running" | "Succeeded") => ({ uid: "u", model: "m", phase });

describe("estimateStart", () => {
  it("is now plus the time the recent pace takes to finish the jobs ahead", () => {
    // 10 ended in 5 minutes: one every 30 s; 4 ahead: 2 minutes.
    expect(estimateStart({ ahead: 4, endedInWindow: 10 }, WINDOW, NOW)?.toISOString()).toBe("2026-12-01T12:02:00.000Z");
    expect(estimateStart({ ahead: 0, endedInWindow: 10 }, WINDOW, NOW)?.getTime()).toBe(NOW);
  });

  it("is unknown (null) when no job ended in the window", () => {
    expect(estimateStart({ ahead: 3, endedInWindow: 0 }, WINDOW, NOW)).toBeNull();
  });
});

describe("QueuePositions", () => {
  it("reads the place of a pending or queued job, with the pace since the window's start", async () => {
    const { positions: p, asked } = positions(() => Promise.resolve({ ahead: 2, waiting: 5, endedInWindow: 20 }));
    for (const phase of ["Pending", "Queued"] as const) {
      expect(await p.of(job(phase))).toEqual({ position: 2, waiting: 5, estimatedStartAt: new Date(NOW + 30_000) });
    }
    expect(asked).toEqual([NOW - WINDOW, NOW - WINDOW]);
  });

  it("asks nothing of the queue for a job that runs or has finished", async () => {
    const { positions: p, asked } = positions(() => Promise.resolve({ ahead: 0, waiting: 1, endedInWindow: 1 }));
    expect(await p.of(job("Running"))).toBeNull();
    expect(await p.of(job("Succeeded"))).toBeNull();
    expect(asked).toEqual([]);
  });

  it("gives no position, rather than failing, when the job is not in the queue or the queue cannot be read", async () => {
    expect(await positions(() => Promise.resolve(undefined)).positions.of(job("Queued"))).toBeNull();
    expect(await positions(() => Promise.reject(new Error("Command timed out"))).positions.of(job("Queued"))).toBeNull();
  });
});
