import { describe, expect, it } from "vitest";
import { loadConfig } from "../common/config.js";
import { usageSince } from "./process-job.js";

describe("usageSince", () => {
  it("counts seconds to the millisecond, times the GPUs", () => {
    expect(usageSince(1000, 2, 2234)).toEqual({ runSeconds: 1.234, gpus: 2, gpuSeconds: 2.468 });
    expect(usageSince(1000, 0, 5000)).toEqual({ runSeconds: 4, gpus: 0, gpuSeconds: 0 });
    expect(usageSince(1000, 3, 1001)).toEqual({ runSeconds: 0.001, gpus: 3, gpuSeconds: 0.003 });
  });

  it("reads PIXELMILL_GPUS, 0 by default", () => {
    expect(loadConfig({}).PIXELMILL_GPUS).toBe(0);
    expect(loadConfig({ PIXELMILL_GPUS: "2" }).PIXELMILL_GPUS).toBe(2);
    expect(() => loadConfig({ PIXELMILL_GPUS: "-1" })).toThrow(/PIXELMILL_GPUS/);
    expect(() => loadConfig({ PIXELMILL_GPUS: "1.5" })).toThrow(/PIXELMILL_GPUS/);
  });
});
