// @vitest-environment jsdom
import { cleanup, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, renderSignedIn, stubFetch } from "../test/render.js";
import { checkFile } from "./files.js";
import { NewJob } from "./NewJob.js";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

describe("the client-side file check", () => {
  it("takes an image by its bytes, whatever its name says", async () => {
    expect(await checkFile(new File([PNG], "scan.bin"), 1024)).toMatchObject({ ok: true, contentType: "image/png" });
    expect(await checkFile(new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], "photo.jpeg"), 1024)).toMatchObject({ ok: true, contentType: "image/jpeg" });
  });

  it("refuses a file that is not an image, or is too large, naming it", async () => {
    expect(await checkFile(new File(["hello"], "notes.png"), 1024)).toMatchObject({ ok: false, message: "notes.png is not an image the API reads: use PNG, JPEG, WebP, GIF, TIFF, AVIF." });
    const big = await checkFile(new File([PNG, new Uint8Array(2048)], "huge.png"), 1024);
    expect(big).toMatchObject({ ok: false, message: "huge.png is 2.0 KB: the limit is 1.0 KB per image." });
  });

  it("shows the refusal on the page before any upload, and keeps Run disabled", async () => {
    const fetch = stubFetch(() => json({ items: [{ name: "grayscale", task: "image-to-image", license: "MIT", origin: null, sha256: null, input: null, output: null, components: {}, params: [] }] }));
    renderSignedIn(<NewJob />, { path: "/new" });
    const picker = await screen.findByLabelText("Images");
    await userEvent.upload(picker, [new File([PNG], "ok.png", { type: "image/png" }), new File(["not an image"], "report.png", { type: "image/png" })]);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("report.png is not an image the API reads");
    expect(alert.textContent).not.toContain("ok.png");
    expect(screen.getByRole("button", { name: "Run" })).toHaveProperty("disabled", true);
    expect(fetch.map((s) => s.url.pathname)).toEqual(["/v1/models"]);
    // Removing the bad file lets the batch of the rest run.
    await userEvent.click(screen.getByRole("button", { name: "Remove report.png" }));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByRole("button", { name: "Run" })).toHaveProperty("disabled", false);
  });
});
