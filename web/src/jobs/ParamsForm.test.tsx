// @vitest-environment jsdom
import { cleanup, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ModelView } from "../../../client/index.js";
import { json, renderSignedIn, stubFetch } from "../test/render.js";
import { NewJob } from "./NewJob.js";
import { parseParams } from "./params.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const model = (name: string, task: string, params: ModelView["params"]): ModelView => ({
  name, task, license: "Apache-2.0", origin: null, sha256: null, input: null, output: null, components: {}, params,
});
const MODELS = [
  model("upscale-x4", "image-to-image", [
    { name: "tile_overlap", type: "integer", min: 0, max: 64, default: 16, description: "pixels shared by neighbouring tiles" },
    { name: "denoise", type: "boolean", default: true },
    { name: "mode", type: "string", enum: ["fast", "best"] },
  ]),
  model("tiny-sdxl", "text-to-image", [
    { name: "prompt", type: "string" },
    { name: "seed", type: "integer", min: 0 },
    { name: "steps", type: "integer", min: 1, max: 150, default: 30 },
    { name: "guidance_scale", type: "number", min: 0, max: 30, default: 5 },
    { name: "scheduler", type: "string", default: "euler", enum: ["ddim", "euler", "dpmpp-2m-karras"] },
    { name: "strength", type: "number", min: 0.01, max: 1, default: 0.6 },
  ]),
];

describe("the params form", () => {
  it("renders each declared param of the chosen model, labelled by name, with its default and range", async () => {
    stubFetch(() => json({ items: MODELS }));
    renderSignedIn(<NewJob />, { path: "/new" });
    const overlap = await screen.findByLabelText("tile_overlap");
    expect(overlap).toHaveProperty("value", "16");
    expect(overlap.getAttribute("min")).toBe("0");
    expect(overlap.getAttribute("max")).toBe("64");
    expect(overlap.getAttribute("aria-describedby")).toBeTruthy();
    expect(screen.getByText("pixels shared by neighbouring tiles · 0 to 64")).toBeTruthy();
    expect(screen.getByLabelText("denoise")).toHaveProperty("checked", true);
    // Declared choices with no default: a select that also offers the model's own default.
    const mode = screen.getByLabelText("mode");
    expect(within(mode).getAllByRole("option").map((o) => o.textContent)).toEqual(["Model default", "fast", "best"]);
    expect(mode).toHaveProperty("value", "");
    // The Process tab lists image models with their task and licence, not text-to-image ones.
    const options = within(screen.getByLabelText("Model")).getAllByRole("option").map((o) => o.textContent);
    expect(options).toEqual(["upscale-x4 — image-to-image, Apache-2.0"]);
  });

  it("refuses a value outside min/max before anything is sent, then sends the params", async () => {
    const fetch = stubFetch((url) => (url.pathname === "/v1/models" ? json({ items: MODELS }) : json({ id: "job-1", status: "pending", model: "tiny-sdxl" }, 201)));
    renderSignedIn(<NewJob />, { path: "/new?tab=generate" });
    const steps = await screen.findByLabelText("Steps");
    await userEvent.type(screen.getByLabelText("Prompt"), "a lighthouse");
    await userEvent.clear(steps);
    await userEvent.type(steps, "500");
    await userEvent.click(screen.getByRole("button", { name: "Generate" }));
    expect(screen.getByText("steps must be at most 150.")).toBeTruthy();
    expect(steps.getAttribute("aria-invalid")).toBe("true");
    expect(fetch.some((s) => s.url.pathname === "/v1/jobs")).toBe(false);

    // The scheduler is a select of the names the model declares, its default chosen; strength (image-to-image only) is not offered.
    const scheduler = screen.getByLabelText("Scheduler");
    expect(within(scheduler).getAllByRole("option").map((o) => o.textContent)).toEqual(["ddim", "euler", "dpmpp-2m-karras"]);
    expect(scheduler).toHaveProperty("value", "euler");
    expect(screen.queryByLabelText("strength")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Random seed" }));
    expect(Number(screen.getByLabelText<HTMLInputElement>("Seed").value)).toBeGreaterThanOrEqual(0);

    await userEvent.clear(steps);
    await userEvent.type(steps, "8");
    await userEvent.click(screen.getByRole("button", { name: "Generate" }));
    await vi.waitFor(() => expect(fetch.some((s) => s.url.pathname === "/v1/jobs")).toBe(true));
    const submit = fetch.find((s) => s.url.pathname === "/v1/jobs")!;
    const body = JSON.parse(submit.init?.body as string) as { model: string; params: Record<string, unknown> };
    expect(body.model).toBe("tiny-sdxl");
    expect(body.params).toMatchObject({ prompt: "a lighthouse", steps: 8, guidance_scale: 5, scheduler: "euler" });
    expect(typeof body.params.seed).toBe("number");
  });

  it("checks types and bounds: integers, numbers, empty fields left to the model", () => {
    const params = MODELS[1]!.params;
    expect(parseParams(params, { steps: "2.5" }).errors).toEqual({ steps: "steps must be a whole number." });
    expect(parseParams(params, { guidance_scale: "-1" }).errors).toEqual({ guidance_scale: "guidance_scale must be at least 0." });
    expect(parseParams(params, { guidance_scale: "abc" }).errors).toEqual({ guidance_scale: "guidance_scale must be a number." });
    expect(parseParams(params, { steps: "", prompt: "x" })).toEqual({ values: { prompt: "x" }, errors: {} });
  });
});
