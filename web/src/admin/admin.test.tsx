// @vitest-environment jsdom
import { cleanup, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PoolView } from "../api/types.js";
import { json, ME, renderSignedIn, stubFetch } from "../test/render.js";
import { Keys } from "./Keys.js";
import { Pools } from "./Pools.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const ADMIN = { ...ME, scopes: ["admin" as const] };
const sample = (minutesAgo: number, desired: number) => ({ at: new Date(Date.now() - minutesAgo * 60_000).toISOString(), desired, ready: desired, pending: 0, waiting: 7, in_flight: 2 });
const POOL: PoolView = {
  name: "a100", namespace: "pixelmill", gpu: { product: "NVIDIA-A100-SXM4-80GB", count: 1 }, models: ["grayscale"], priority: 0,
  replicas: { min: 0, max: 4, desired: 3, ready: 2, pending: 1 }, waiting: 7, in_flight: 2, last_scale_reason: null, last_scale_time: null, conditions: [],
  history: [sample(50, 1), sample(20, 4), sample(0, 3)],
};

describe("admin pages", () => {
  it("draws each pool's last hour as an SVG chart with a title and a description of the numbers", async () => {
    stubFetch(() => json({ items: [POOL] }));
    renderSignedIn(<Pools />, { me: ADMIN });
    const chart = await screen.findByRole("img", { name: /a100: replicas and jobs, last hour/ });
    expect(chart.querySelector("desc")?.textContent).toBe("Over the last hour, at most 7. Now: desired 3, ready 3, waiting 7, in flight 2.");
    expect(chart.querySelectorAll("polyline")).toHaveLength(4);
    expect(screen.getByText("3 desired, 2 ready, 1 pending (min 0, max 4)")).toBeTruthy();
    expect(screen.getByText("1 × NVIDIA-A100-SXM4-80GB")).toBeTruthy();
  });

  it("shows a new key once, and revokes another only after a confirmation", async () => {
    const keys = [
      { id: "k1", name: "laptop", prefix: "pm_1", tenant: "acme", scopes: ["admin"], created_at: null, last_used_at: null, expires_at: null, revoked_at: null },
      { id: "k2", name: "ci", prefix: "pm_2", tenant: "acme", scopes: ["jobs:read"], created_at: null, last_used_at: null, expires_at: null, revoked_at: null },
    ];
    const sent = stubFetch((url, init) => {
      if (init?.method === "POST") return json({ ...keys[1], id: "k3", name: "deploy", key: "pm_secret_once" }, 201);
      if (init?.method === "DELETE") return json({ ...keys[1], revoked_at: "2026-12-01T10:00:00Z" });
      return json({ items: keys });
    });
    renderSignedIn(<Keys />, { me: ADMIN });
    await userEvent.type(screen.getByLabelText("Name"), "deploy");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByLabelText("New API key")).toHaveProperty("value", "pm_secret_once");
    expect(JSON.parse(sent.find((s) => s.init?.method === "POST")!.init!.body as string)).toEqual({ name: "deploy", scopes: ["jobs:write", "jobs:read", "models:read"] });
    await userEvent.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByLabelText("New API key")).toBeNull();

    // The key signed in with offers no Revoke; another asks first.
    const rows = await screen.findAllByRole("row");
    expect(within(rows[1]!).queryByRole("button")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Revoke ci" }));
    expect(sent.some((s) => s.init?.method === "DELETE")).toBe(false);
    await userEvent.click(screen.getByRole("button", { name: "Yes, revoke ci" }));
    await vi.waitFor(() => expect(sent.find((s) => s.init?.method === "DELETE")?.url.pathname).toBe("/v1/keys/k2"));
  });
});
