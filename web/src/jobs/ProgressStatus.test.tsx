// @vitest-environment jsdom
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { jobView } from "../test/render.js";
import { ProgressStatus } from "./ProgressStatus.js";
import { mergeProgress } from "./useJobFeed.js";

afterEach(cleanup);

const PREVIEW = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

describe("the job's progress", () => {
  it("says the diffusion step and shows the preview of a progress message", () => {
    render(<ProgressStatus view={jobView({ status: "running" })} progress={{ attempt: 1, stage: "inference", elapsedMs: 1200, step: { done: 3, total: 8 }, preview: PREVIEW }} />);
    const status = screen.getByRole("status");
    expect(status.textContent).toContain("Running");
    expect(status.textContent).toContain("Step 3 of 8");
    expect(screen.getByRole("progressbar", { name: "Steps done" })).toHaveProperty("value", 3);
    expect(screen.getByRole("img", { name: /Preview of the image so far/ }).getAttribute("src")).toBe(PREVIEW);
  });

  it("says the queue position and retries while the job waits, and the reason when it failed", () => {
    const { rerender } = render(<ProgressStatus view={jobView({ status: "queued", attempts: 2, started_at: null, queue: { position: 2, waiting: 5, estimated_start_at: null } })} progress={null} />);
    const status = screen.getByRole("status");
    expect(status.textContent).toContain("Queued");
    expect(status.textContent).toContain("Position 3 of 5 in the queue");
    expect(status.textContent).toContain("Attempt 2 (1 retry)");

    rerender(<ProgressStatus view={jobView({ status: "failed", error: { reason: "InvalidImage", message: "the input is not an image" } })} progress={null} />);
    expect(within(screen.getByRole("alert")).getByText("the input is not an image")).toBeTruthy();
    expect(screen.getByRole("alert").textContent).toContain("InvalidImage");
  });

  it("keeps the last preview while later steps come without one, within an attempt", () => {
    const first = mergeProgress(null, { attempt: 1, stage: "inference", elapsedMs: 1, step: { done: 2, total: 8 }, preview: PREVIEW });
    expect(mergeProgress(first, { attempt: 1, stage: "inference", elapsedMs: 2, step: { done: 3, total: 8 } }).preview).toBe(PREVIEW);
    expect(mergeProgress(first, { attempt: 2, stage: "fetch", elapsedMs: 0 }).preview).toBeUndefined();
  });
});
