// @vitest-environment jsdom
import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../App.js";
import { json, ME, stubFetch } from "../test/render.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
  localStorage.clear();
});

function renderApp() {
  return render(<MemoryRouter initialEntries={["/sign-in"]}><App /></MemoryRouter>);
}

describe("sign-in", () => {
  it("shows the API's problem title and detail when the key is refused, and keeps nothing", async () => {
    stubFetch(() => json({ type: "about:blank", title: "Unauthorized", status: 401, detail: "the API key is not valid or has been revoked" }, 401));
    renderApp();
    await userEvent.type(screen.getByLabelText("API key"), "pm_wrong");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveProperty("textContent", expect.stringContaining("the API key is not valid or has been revoked"));
    expect(alert.textContent).toContain("Unauthorized");
    expect(sessionStorage.length).toBe(0);
    expect(localStorage.length).toBe(0);
  });

  it("checks the key with GET /v1/me, keeps it in sessionStorage only and opens New job", async () => {
    const fetch = stubFetch((url) => (url.pathname === "/v1/me" ? json(ME) : json({ items: [] })));
    renderApp();
    await userEvent.type(screen.getByLabelText("API key"), "pm_right");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "New job" })).toBeTruthy();
    expect(sessionStorage.getItem("pixelmill.apiKey")).toBe("pm_right");
    expect(localStorage.length).toBe(0);
    const { url, init } = fetch[0]!;
    expect(url.href).toBe(`${window.location.origin}/v1/me`);
    expect(url.href).not.toContain("pm_right");
    expect(new Headers(init?.headers).get("authorization")).toBe("Bearer pm_right");
    // Signing out clears the tab's storage and goes back to the sign-in page.
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(sessionStorage.length).toBe(0);
    expect(await screen.findByLabelText("API key")).toBeTruthy();
  });
});

describe("a session whose key stops working", () => {
  it("ends at the API's first 401, back to sign-in with a message", async () => {
    sessionStorage.setItem("pixelmill.apiKey", "pm_revoked_later");
    let revoked = false;
    stubFetch((url) => {
      if (revoked) return json({ type: "about:blank", title: "Unauthorized", status: 401, detail: "the API key has been revoked" }, 401);
      revoked = url.pathname === "/v1/models";
      return url.pathname === "/v1/me" ? json(ME) : json({ type: "about:blank", title: "Service Unavailable", status: 503, detail: "try again" }, 503);
    });
    render(<MemoryRouter initialEntries={["/new"]}><App /></MemoryRouter>);
    await userEvent.click(await screen.findByRole("button", { name: "Try again" }));
    expect((await screen.findByRole("alert")).textContent).toContain("no longer accepts the key");
    expect(screen.getByLabelText("API key")).toBeTruthy();
    expect(sessionStorage.length).toBe(0);
  });
});
