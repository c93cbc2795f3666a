import { describe, expect, it } from "vitest";
import type { RawImage } from "./tensors.js";
import { crop, planTiles, stitch } from "./tiles.js";

describe("planTiles", () => {
  it("is one tile when the image fits", () => {
    expect(planTiles(30, 20, 32, 8)).toEqual([{ x: 0, y: 0, width: 30, height: 20, keep: { x0: 0, y0: 0, x1: 30, y1: 20 } }]);
  });

  it.each([[100, 37, 32, 8], [33, 33, 32, 0], [1000, 999, 256, 31], [64, 70, 16, 15]])(
    "covers %ix%i with size %i overlap %i: full-size tiles, kept regions partitioning the image",
    (width, height, size, overlap) => {
      const tiles = planTiles(width, height, size, overlap);
      const hits = new Uint8Array(width * height);
      for (const t of tiles) {
        expect(t.width).toBe(Math.min(size, width));
        expect(t.height).toBe(Math.min(size, height));
        expect(t.x + t.width).toBeLessThanOrEqual(width);
        expect(t.y + t.height).toBeLessThanOrEqual(height);
        // The kept region lies in the tile, at least overlap/2 from an edge shared with a neighbour.
        const margin = Math.floor(overlap / 2);
        if (t.keep.x0 > 0) expect(t.keep.x0 - t.x).toBeGreaterThanOrEqual(margin);
        if (t.keep.x1 < width) expect(t.x + t.width - t.keep.x1).toBeGreaterThanOrEqual(margin);
        if (t.keep.y0 > 0) expect(t.keep.y0 - t.y).toBeGreaterThanOrEqual(margin);
        for (let y = t.keep.y0; y < t.keep.y1; y++) for (let x = t.keep.x0; x < t.keep.x1; x++) hits[y * width + x]!++;
      }
      expect(hits.every((h) => h === 1)).toBe(true);
    },
  );
});

describe("crop and stitch", () => {
  it("reassemble an image from its tiles (scale 1 and 2)", () => {
    const img: RawImage = { data: Uint8Array.from({ length: 9 * 7 * 3 }, (_, i) => i % 251), width: 9, height: 7, channels: 3 };
    for (const scale of [1, 2]) {
      const target: RawImage = { data: new Uint8Array(img.data.length * scale * scale), width: 9 * scale, height: 7 * scale, channels: 3 };
      for (const t of planTiles(9, 7, 4, 2)) stitch(target, nearest(crop(img, t), scale), t, scale);
      expect(target).toEqual(nearest(img, scale));
    }
  });
});

/** Nearest-neighbour upscaling: a stand-in model whose output pixel depends on one input pixel. */
function nearest(img: RawImage, scale: number): RawImage {
  const w = img.width * scale, h = img.height * scale, c = img.channels;
  const data = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * c;
      data.set(img.data.subarray(src, src + c), (y * w + x) * c);
    }
  }
  return { data, width: w, height: h, channels: c };
}
