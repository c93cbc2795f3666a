// @vitest-environment jsdom
import { cleanup, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { JobView } from "../../../client/index.js";
import { jobView, json, renderSignedIn, stubFetch } from "../test/render.js";
import { JobPage } from "./JobPage.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const MODELS = [
  { name: "upscale-x4", task: "image-to-image", license: "MIT", origin: null, sha256: null, input: null, output: null, components: {}, params: [] },
  { name: "tiny-sdxl", task: "text-to-image", license: "MIT", origin: null, sha256: null, input: null, output: null, components: {}, params: [] },
];
const CREATED = { id: "job-new", status: "pending", model: "x", created_at: "2026-12-01T10:00:00Z", urls: { self: "x", events: "x" } };

/** The page of finished job `view`, with the API's answers; the requests it made. */
function jobPage(view: JobView) {
  const sent = stubFetch((url, init) => {
    if (url.pathname === "/v1/models") return json({ items: MODELS });
    if (init?.method === "POST" && url.pathname === "/v1/jobs") return json({ ...CREATED, model: view.model }, 202);
    return json(view);
  });
  renderSignedIn(
    <Routes>
      <Route path="/jobs/:id" element={<JobPage />} />
    </Routes>,
    { path: `/jobs/${view.id}` },
  );
  return sent;
}

const submitted = (sent: ReturnType<typeof stubFetch>) => sent.filter((s) => s.init?.method === "POST").map((s) => JSON.parse(s.init?.body as string) as unknown);

describe("a job's page", () => {
  it("details the job's input, ImageJob and GPU seconds, and runs it again with the same input and params", async () => {
    const view = jobView({ status: "failed", finished_at: "2026-12-01T10:00:05.000Z", error: { reason: "ModelError", message: "out of memory" }, params: { tile_overlap: 8 }, usage: { run_seconds: 2.5, gpu_seconds: 5 } });
    const sent = jobPage(view);
    const details = within(await screen.findByRole("region", { name: "Details" }));
    expect(details.getByText("cat.png")).toBeTruthy();
    expect(details.getByText("upload:uploads/acme/1b9d6bcd.png")).toBeTruthy();
    expect(details.getByText(`acme/job-${view.id.slice(0, 8)}`)).toBeTruthy();
    expect(details.getByText("5.0 s")).toBeTruthy();
    expect(details.getByText("run time 2.5 s")).toBeTruthy();
    expect(details.getByText("ModelError: out of memory")).toBeTruthy();
    // Not a generation: no Another seed.
    expect(screen.queryByRole("button", { name: "Another seed" })).toBeNull();

    await userEvent.click(await screen.findByRole("button", { name: "Run again" }));
    await vi.waitFor(() => expect(submitted(sent)).toEqual([{ model: "upscale-x4", params: { tile_overlap: 8 }, input: { uri: "upload:uploads/acme/1b9d6bcd.png" } }]));
  });

  it("runs a generation again, and again with another seed (no input)", async () => {
    const view = jobView({ status: "canceled", model: "tiny-sdxl", finished_at: "2026-12-01T10:00:05.000Z", input: { uri: null, filename: null }, params: { prompt: "a lighthouse", seed: 11, steps: 6 } });
    const sent = jobPage(view);
    await userEvent.click(await screen.findByRole("button", { name: "Another seed" }));
    await vi.waitFor(() => expect(submitted(sent)).toHaveLength(1));
    const body = submitted(sent)[0] as { model: string; params: { seed: number }; input?: unknown };
    expect(body).toMatchObject({ model: "tiny-sdxl", params: { prompt: "a lighthouse", steps: 6 } });
    expect(body.input).toBeUndefined();
    expect(body.params.seed).not.toBe(11);
    expect(body.params.seed).toBeGreaterThanOrEqual(0);
  });

  it("offers a batch no Run again, only a new job with its model", async () => {
    const view = jobView({ status: "failed", finished_at: "2026-12-01T10:00:05.000Z", input: { uri: null, filename: null }, batch: { total: 2, succeeded: 1, failed: 1, running: 0, canceled: 0, items_url: "x", manifest_url: "x" } });
    jobPage(view);
    expect(await screen.findByRole("link", { name: "New job with this model" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Run again" })).toBeNull();
  });
});
