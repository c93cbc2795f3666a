import { describe, expect, it } from "vitest";
import { readingOrder, textBoxes, type BoxOptions } from "./boxes.js";
import type { Quad } from "./geometry.js";

const OPTS: BoxOptions = { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, limit: 100 };

/** A 100x60 map with the given rectangles (inclusive pixel bounds) set to a probability. */
function map(rects: Array<[x0: number, y0: number, x1: number, y1: number, p: number]>): { data: Float32Array; width: number; height: number } {
  const width = 100, height = 60;
  const data = new Float32Array(width * height);
  for (const [x0, y0, x1, y1, p] of rects) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * width + x] = p;
  return { data, width, height };
}

describe("textBoxes", () => {
  it("grows a region by the unclip distance and scales it to the image", () => {
    const { boxes, truncated } = textBoxes(map([[10, 20, 49, 27, 0.9]]), 200, 120, OPTS);
    expect(truncated).toBe(false);
    expect(boxes).toHaveLength(1);
    // Pixel centres span 39x7; d = 39*7*1.5/92 = 4.45; then x2 and rounded.
    expect(boxes[0]!.quad).toEqual([[11, 31], [107, 31], [107, 63], [11, 63]]);
    expect(boxes[0]!.score).toBeCloseTo(0.9, 6);
  });

  it("follows a turned region", () => {
    // A staircase rising to the right: 4 rows high, each 10 pixels shifted up by one row.
    const steps = Array.from({ length: 6 }, (_, i): [number, number, number, number, number] => [10 + i * 10, 30 - i, 19 + i * 10, 33 - i, 0.9]);
    const [box] = textBoxes(map(steps), 100, 60, OPTS).boxes;
    const [tl, tr, br, bl] = box!.quad;
    expect(tr[1]).toBeLessThan(tl[1]);
    expect(br[1]).toBeLessThan(bl[1]);
    expect(tl[0]).toBeLessThan(10);
    expect(tr[0]).toBeGreaterThan(69);
  });

  it("drops regions below boxThreshold, and keeps them when it is lowered", () => {
    const faint = map([[10, 20, 49, 27, 0.5]]);
    expect(textBoxes(faint, 100, 60, OPTS).boxes).toEqual([]);
    expect(textBoxes(faint, 100, 60, { ...OPTS, boxThreshold: 0.4 }).boxes).toHaveLength(1);
  });

  it("drops regions thinner than 3 pixels", () => {
    expect(textBoxes(map([[10, 20, 49, 21, 0.9], [60, 5, 61, 50, 0.9]]), 100, 60, OPTS).boxes).toEqual([]);
  });

  it("clips boxes to the image", () => {
    const [box] = textBoxes(map([[0, 0, 30, 6, 0.9]]), 100, 60, OPTS).boxes;
    expect(box!.quad[0]).toEqual([0, 0]);
    expect(Math.min(...box!.quad.flat())).toBeGreaterThanOrEqual(0);
  });

  it("passes the limit on and says when regions were left", () => {
    const many = map(Array.from({ length: 5 }, (_, i): [number, number, number, number, number] => [5 + i * 18, 10, 15 + i * 18, 20, 0.9]));
    expect(textBoxes(many, 100, 60, { ...OPTS, limit: 3 })).toMatchObject({ truncated: true, boxes: { length: 3 } });
  });
});

describe("readingOrder", () => {
  const box = (x: number, y: number): { quad: Quad } => ({ quad: [[x, y], [x + 10, y], [x + 10, y + 5], [x, y + 5]] });

  it("reads rows top to bottom and each row left to right, tops within 10 pixels being one row", () => {
    const boxes = [box(100, 12), box(50, 40), box(10, 15), box(0, 60), box(200, 6)];
    expect(readingOrder(boxes).map((b) => b.quad[0])).toEqual([[10, 15], [100, 12], [200, 6], [50, 40], [0, 60]]);
  });
});
