// @vitest-environment jsdom
import { cleanup, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, renderSignedIn, stubFetch } from "../test/render.js";
import { NewJob } from "./NewJob.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const png = (name: string) => new File([PNG], name, { type: "image/png" });
const GRAYSCALE = { name: "grayscale", task: "image-to-image", license: "MIT", origin: null, sha256: null, input: null, output: null, components: {}, params: [{ name: "strength", type: "number", min: 0, max: 1, default: 1 }] };
const CREATED = { id: "job-9", status: "pending", model: "grayscale", created_at: "2026-12-01T10:00:00Z", urls: { self: "x", events: "x" } };

function newJobPage() {
  const sent = stubFetch((url) => (url.pathname === "/v1/models" ? json({ items: [GRAYSCALE] }) : json(CREATED, 202)));
  renderSignedIn(
    <Routes>
      <Route path="/new" element={<NewJob />} />
      <Route path="/jobs/:id" element={<p>job page</p>} />
    </Routes>,
    { path: "/new" },
  );
  return sent;
}

describe("submitting images", () => {
  it("sends several images as one multipart request, each an image part under its name, and opens the batch job", async () => {
    const sent = newJobPage();
    await userEvent.upload(await screen.findByLabelText("Images"), [png("a.png"), png("b.png")]);
    expect(await screen.findByText("2 images: one batch job")).toBeTruthy();
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    expect(await screen.findByText("job page")).toBeTruthy();
    // One request, to the API only: no direct upload, no other origin.
    expect(sent.map((s) => `${s.init?.method ?? "GET"} ${s.url.pathname}`)).toEqual(["GET /v1/models", "POST /v1/jobs"]);
    expect(sent.every((s) => s.url.origin === window.location.origin)).toBe(true);
    const form = sent[1]!.init?.body as FormData;
    expect(form.get("model")).toBe("grayscale");
    expect(JSON.parse(form.get("params") as string)).toEqual({ strength: 1 });
    expect(form.getAll("image").map((f) => (f as File).name)).toEqual(["a.png", "b.png"]);
  });

  it("sends one image as one image part", async () => {
    const sent = newJobPage();
    await userEvent.upload(await screen.findByLabelText("Images"), [png("cat.png")]);
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    expect(await screen.findByText("job page")).toBeTruthy();
    const form = sent.find((s) => s.url.pathname === "/v1/jobs")!.init?.body as FormData;
    expect(form.getAll("image").map((f) => (f as File).name)).toEqual(["cat.png"]);
  });

  it("refuses more images than one job takes before anything is sent", async () => {
    const sent = newJobPage();
    await userEvent.upload(await screen.findByLabelText("Images"), Array.from({ length: 101 }, (_, i) => png(`${i}.png`)));
    expect((await screen.findByRole("alert")).textContent).toContain("101 chosen, and one batch job takes at most 100");
    expect(screen.getByRole("button", { name: "Run" })).toHaveProperty("disabled", true);
    expect(sent.map((s) => s.url.pathname)).toEqual(["/v1/models"]);
  });
});
