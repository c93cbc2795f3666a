// @vitest-environment jsdom
import { cleanup, screen } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import { Layout } from "../Layout.js";
import { ME, renderSignedIn } from "../test/render.js";
import { RequireScope } from "./NoAccess.js";

afterEach(cleanup);

function renderAt(path: string, scopes: typeof ME.scopes) {
  return renderSignedIn(
    <Routes>
      <Route element={<Layout />}>
        <Route path="admin/pools" element={<RequireScope scope="admin"><h1>Worker pools</h1></RequireScope>} />
        <Route path="admin/keys" element={<RequireScope scope="keys:admin"><h1>Keys</h1></RequireScope>} />
      </Route>
    </Routes>,
    { path, me: { ...ME, scopes } },
  );
}

describe("a page the key has no scope for", () => {
  it("says so, naming the missing scope and the key's own", () => {
    renderAt("/admin/pools", ["jobs:read", "jobs:write"]);
    expect(screen.getByRole("heading", { name: "You don't have access" })).toBeTruthy();
    expect(screen.getByText(/This page needs an API key with the/).textContent).toBe("This page needs an API key with the admin scope.");
    expect(screen.getByText(/Your key has: jobs:read, jobs:write/)).toBeTruthy();
    expect(screen.queryByRole("heading", { name: "Worker pools" })).toBeNull();
    // Nor does the navigation offer the admin pages.
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(nav.textContent).not.toContain("Pools");
  });

  it("names a scope other than admin, which would do too", () => {
    renderAt("/admin/keys", ["jobs:read"]);
    expect(screen.getByText(/This page needs an API key with the/).textContent).toBe("This page needs an API key with the keys:admin scope (or admin).");
  });

  it("is the page itself for a key with the scope, admin implying every scope", () => {
    renderAt("/admin/keys", ["admin"]);
    expect(screen.getByRole("heading", { name: "Keys" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Pools" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Webhooks" })).toBeTruthy();
  });
});
