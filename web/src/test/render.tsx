import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import type { JobView } from "../../../client/index.js";
import { Api } from "../api/api.js";
import type { MeView } from "../api/types.js";
import { SessionContext } from "../auth/session.js";

/** A JSON answer as the API gives it. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": status < 400 ? "application/json" : "application/problem+json" } });
}

/** A request the page made. */
export interface Sent {
  url: URL;
  init: RequestInit | undefined;
}

/** fetch stubbed at the boundary: `answer` gets each request's URL and init; the requests, in order. */
export function stubFetch(answer: (url: URL, init: RequestInit | undefined) => Response | Promise<Response>): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input);
    sent.push({ url, init });
    return Promise.resolve(answer(url, init));
  });
  return sent;
}

export const ME: MeView = { tenant: { id: "t1", name: "acme", namespace: "acme" }, key: { id: "k1", name: "ci" }, scopes: ["jobs:read", "jobs:write", "models:read"],
  limits: { max_upload_bytes: 50 * 1024 * 1024, max_form_images: 100 } };

/** `ui` signed in as `me`, at `path`. */
export function renderSignedIn(ui: ReactNode, { me = ME, path = "/" }: { me?: MeView; path?: string } = {}) {
  const session = { api: new Api("pm_test_key"), me, signOut: vi.fn() };
  return render(
    <MemoryRouter initialEntries={[path]}>
      <SessionContext.Provider value={session}>{ui}</SessionContext.Provider>
    </MemoryRouter>,
  );
}

/** A job as GET /v1/jobs/:id shows it. */
export function jobView(overrides: Partial<JobView> = {}): JobView {
  const id = overrides.id ?? "5f0c4a2e-1111-4222-8333-944445555666";
  return {
    id, status: "running", model: "upscale-x4", created_at: "2026-12-01T10:00:00.000Z", attempts: 1,
    queued_at: "2026-12-01T10:00:01.000Z", started_at: "2026-12-01T10:00:02.000Z", finished_at: null,
    error: null, output: null, queue: null, batch: null, input: { uri: "upload:uploads/acme/1b9d6bcd.png", filename: "cat.png" },
    params: null, imagejob: { namespace: "acme", name: `job-${id.slice(0, 8)}` }, usage: null,
    urls: { self: `http://localhost/v1/jobs/${id}`, events: `http://localhost/v1/jobs/${id}/events` },
    ...overrides,
  };
}
