// @vitest-environment jsdom
import { cleanup, fireEvent, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { jobView, json, renderSignedIn, stubFetch, type Sent } from "../test/render.js";
import { History } from "./History.js";
import { listQueryOf } from "./historyQuery.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const jobsAsked = (sent: Sent[]) => sent.filter((s) => s.url.pathname === "/v1/jobs").map((s) => s.url.search);

describe("history", () => {
  it("asks GET /v1/jobs with the URL's filters, then with each filter chosen, and pages on with the cursor", async () => {
    const fetch = stubFetch((url) => {
      if (url.pathname === "/v1/models") return json({ items: [{ name: "upscale-x4" }, { name: "ocr" }] });
      const cursor = url.searchParams.get("cursor");
      return json({ items: [jobView({ id: cursor ? "job-2" : "job-1", status: "failed" })], next_cursor: cursor ? null : "c1" });
    });
    renderSignedIn(<History />, { path: "/jobs?status=failed" });
    expect(await screen.findByRole("link", { name: "job-1" })).toBeTruthy();
    expect(jobsAsked(fetch)).toEqual(["?limit=25&status=failed"]);

    await screen.findByRole("option", { name: "ocr" });
    await userEvent.selectOptions(screen.getByLabelText("Model"), "ocr");
    await vi.waitFor(() => expect(jobsAsked(fetch)).toContain("?limit=25&status=failed&model=ocr"));

    await userEvent.click(await screen.findByRole("button", { name: "Load more" }));
    expect(await screen.findByRole("link", { name: "job-2" })).toBeTruthy();
    expect(jobsAsked(fetch).at(-1)).toBe("?limit=25&status=failed&model=ocr&cursor=c1");
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });

  it("shows an empty state, and the API's problem when listing fails", async () => {
    stubFetch((url) => (url.pathname === "/v1/models" ? json({ items: [] }) : json({ items: [], next_cursor: null })));
    renderSignedIn(<History />, { path: "/jobs" });
    expect(await screen.findByText(/No jobs yet/)).toBeTruthy();
    cleanup();
    stubFetch((url) => (url.pathname === "/v1/models" ? json({ items: [] }) : json({ type: "about:blank", title: "Bad Request", status: 400, detail: "cursor is not a valid cursor" }, 400)));
    renderSignedIn(<History />, { path: "/jobs" });
    expect((await screen.findByRole("alert")).textContent).toContain("cursor is not a valid cursor");
  });

  it("asks the API for the days chosen: From's start (inclusive) to the start of the day after To (exclusive)", async () => {
    const fetch = stubFetch((url) => (url.pathname === "/v1/models" ? json({ items: [] }) : json({ items: [jobView({ id: "job-1" })], next_cursor: null })));
    renderSignedIn(<History />, { path: "/jobs?from=2026-11-02" });
    expect(await screen.findByRole("link", { name: "job-1" })).toBeTruthy();
    const after = new Date(2026, 10, 2).toISOString();
    expect(jobsAsked(fetch)).toEqual([`?limit=25&created_after=${encodeURIComponent(after)}`]);
    fireEvent.change(screen.getByLabelText("To"), { target: { value: "2026-11-03" } });
    const before = new Date(2026, 10, 4).toISOString();
    await vi.waitFor(() => expect(jobsAsked(fetch).at(-1)).toBe(`?limit=25&created_after=${encodeURIComponent(after)}&created_before=${encodeURIComponent(before)}`));
  });

  it("builds the query from the filters", () => {
    expect(listQueryOf({ status: "", model: "", from: "", to: "" })).toEqual({ limit: 25 });
    expect(listQueryOf({ status: "succeeded", model: "ocr", from: "", to: "2026-12-31" }, "abc")).toEqual({
      limit: 25, status: "succeeded", model: "ocr", created_before: new Date(2027, 0, 1), cursor: "abc",
    });
  });
});
