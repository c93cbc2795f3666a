// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api/api.js";
import { jobView, stubFetch } from "../test/render.js";
import { ResultView } from "./ResultView.js";

beforeEach(() => {
  let n = 0;
  vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => `blob:result-${++n}`, revokeObjectURL: () => {} }));
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const file = (body: BodyInit, type: string, name: string) => new Response(body, { headers: { "content-type": type, "content-disposition": `attachment; filename="${name}"` } });
const OCR = { width: 200, height: 100, lines: [{ text: "HELLO", confidence: 0.9, box: [[1, 1], [90, 1], [90, 20], [1, 20]] }, { text: "world", confidence: 0.8, box: [[1, 30], [90, 30], [90, 50], [1, 50]] }] };
const OUTPUT = { content_type: "image/png", width: 64, height: 32, bytes: 1, url: null, url_expires_at: null, expires_at: null, expired_at: null, notes: [], cached: false };
const done = jobView({ status: "succeeded", finished_at: "2026-12-01T10:00:03.000Z" });

describe("a job's result", () => {
  it("compares an image output with its input: a Compare slider, Fit and Actual size", async () => {
    const sent = stubFetch((url) => (url.pathname.endsWith("/output") ? file(new Uint8Array([1]), "image/png", "cat.png") : file(new Uint8Array([2]), "image/png", "cat.png")));
    const onOutput = vi.fn();
    render(<ResultView api={new Api("k")} view={{ ...done, output: OUTPUT }} localInput={null} mask={false} onOutput={onOutput} />);
    const slider = await screen.findByRole("slider", { name: "Compare" });
    expect(slider).toHaveProperty("value", "50");
    fireEvent.change(slider, { target: { value: "30" } });
    expect(slider.getAttribute("aria-valuetext")).toBe("30% input, 70% output");
    expect(screen.getByRole("img", { name: "Output" }).style.clipPath).toContain("30%)");
    expect(screen.getByRole("img", { name: "Input" }).getAttribute("src")).toBe("blob:result-2");
    expect(screen.getByRole("img", { name: "Output" }).getAttribute("src")).toBe("blob:result-1");
    expect(screen.getByRole("button", { name: "Fit" }).getAttribute("aria-pressed")).toBe("true");
    await userEvent.click(screen.getByRole("button", { name: "Actual size" }));
    expect(screen.getByRole("button", { name: "Actual size" }).getAttribute("aria-pressed")).toBe("true");
    expect(onOutput).toHaveBeenCalledWith(expect.objectContaining({ filename: "cat.png", contentType: "image/png" }));
    expect(sent.map((s) => s.url.pathname)).toEqual([`/v1/jobs/${done.id}/output`, `/v1/jobs/${done.id}/input`]);
  });

  it("draws an OCR output's boxes over the input and gives its text to copy", async () => {
    stubFetch((url) => (url.pathname.endsWith("/output") ? file(JSON.stringify(OCR), "application/json", "scan.json") : file(new Uint8Array([2]), "image/png", "scan.png")));
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal("navigator", Object.assign(Object.create(navigator) as Navigator, { clipboard: { writeText } }));
    const { container } = render(<ResultView api={new Api("k")} view={{ ...done, model: "ocr" }} localInput={null} mask={false} onOutput={() => {}} />);
    const text = await screen.findByLabelText("Text (2 lines)");
    expect(text).toHaveProperty("value", "HELLO\nworld");
    expect(text).toHaveProperty("readOnly", true);
    expect(container.querySelectorAll("polygon")).toHaveLength(2);
    await userEvent.click(screen.getByRole("button", { name: "Copy text" }));
    expect(writeText).toHaveBeenCalledWith("HELLO\nworld");
    expect(await screen.findByText("Text copied.")).toBeTruthy();
  });

  it("shows the API's problem when the output cannot be read", async () => {
    stubFetch(() => new Response(JSON.stringify({ type: "about:blank", title: "Conflict", status: 409, detail: "the job has no output yet" }), { status: 409 }));
    render(<ResultView api={new Api("k")} view={done} localInput={null} mask={false} onOutput={() => {}} />);
    expect((await screen.findByRole("alert")).textContent).toContain("the job has no output yet");
  });
});
