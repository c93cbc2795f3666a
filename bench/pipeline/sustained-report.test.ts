import { describe, expect, it } from "vitest";
import { judge } from "./sustained-report.js";

const steady = { offeredPerS: 20, acceptedPerS: 20, t99Ms: 1500, deleteAfterS: 30, firstP50Ms: 400, lastP50Ms: 500, allFinished: true };

describe("judge", () => {
  it("bounds live ImageJobs by rate × (p99 time to finish + delete delay + the deleter's slack)", () => {
    expect(judge({ ...steady, maxLive: 600 }).bound).toBe(Math.ceil(20 * (1.5 + 30 + 2)));
  });

  it("passes a run that kept up with no more live jobs than the bound", () => {
    expect(judge({ ...steady, maxLive: 670 })).toMatchObject({ keptUp: true, bounded: true });
  });

  it("fails a run whose finished jobs are not deleted (live jobs past the bound)", () => {
    expect(judge({ ...steady, maxLive: 5000 })).toMatchObject({ keptUp: true, bounded: false });
  });

  it("fails a run that fell behind, however generous its bound grew", () => {
    const behind = judge({ ...steady, t99Ms: 120_000, firstP50Ms: 400, lastP50Ms: 90_000, maxLive: 2000 });
    expect(behind.bound).toBeGreaterThan(2000);
    expect(behind).toMatchObject({ keptUp: false, bounded: false });
  });

  it("fails a run whose submits fell behind the offered rate (the API accepting slowly)", () => {
    expect(judge({ ...steady, acceptedPerS: 16, maxLive: 500 })).toMatchObject({ keptUp: false, bounded: false });
  });

  it("fails a run whose jobs did not all end", () => {
    expect(judge({ ...steady, maxLive: 600, allFinished: false }).bounded).toBe(false);
  });
});
