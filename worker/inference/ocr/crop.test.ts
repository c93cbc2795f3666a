import { describe, expect, it } from "vitest";
import type { RawImage } from "../tensors.js";
import { applyMatrix, cropQuad, perspective, resize, rotate180, rotate90 } from "./crop.js";
import type { Point, Quad } from "./geometry.js";

/** RGB pixels whose value encodes their position: r = x, g = y, b = x + y. */
function gradient(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, (x + y) % 256], (y * width + x) * 3);
  return { data, width, height, channels: 3 };
}

const px = (img: RawImage, x: number, y: number): number[] => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

describe("perspective", () => {
  it("takes each corner to its corner, and a mid-point of an affine map to the mid-point", () => {
    const from: Quad = [[0, 0], [10, 0], [10, 5], [0, 5]];
    const to: Quad = [[3, 4], [23, 8], [21, 18], [1, 14]];
    const m = perspective(from, to);
    from.forEach((p, i) => {
      const [x, y] = applyMatrix(m, p);
      expect(x).toBeCloseTo(to[i]![0], 9);
      expect(y).toBeCloseTo(to[i]![1], 9);
    });
    const [x, y] = applyMatrix(m, [5, 2.5]);
    expect([x, y].map((v) => Math.round(v * 1e9) / 1e9)).toEqual([12, 11]);
  });

  it("refuses corners on one line", () => {
    expect(() => perspective([[0, 0], [1, 0], [2, 0], [3, 0]], [[0, 0], [1, 0], [1, 1], [0, 1]])).toThrow(/degenerate/);
  });
});

describe("cropQuad", () => {
  it("cuts an axis-aligned quad out pixel for pixel", () => {
    const img = gradient(40, 30);
    const crop = cropQuad(img, [[5, 7], [25, 7], [25, 17], [5, 17]]);
    expect([crop.width, crop.height]).toEqual([20, 10]);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 20; x++) expect(px(crop, x, y)).toEqual(px(img, 5 + x, 7 + y));
  });

  it("turns a quad drawn on its side upright (corners onto corners)", () => {
    const img = gradient(40, 40);
    // Its "top" runs down the image: top-left (30, 5) to top-right (30, 25), 10 wide to the left.
    const quad: Quad = [[30, 5], [30, 25], [20, 25], [20, 5]];
    const crop = cropQuad(img, quad);
    expect([crop.width, crop.height]).toEqual([20, 10]);
    expect(px(crop, 0, 0)).toEqual(px(img, 30, 5));
    expect(px(crop, 19, 0)).toEqual(px(img, 30, 24));
    expect(px(crop, 0, 9)).toEqual(px(img, 21, 5));
  });

  it("samples a turned quad bilinearly", () => {
    const img = gradient(60, 60);
    const angle = (20 * Math.PI) / 180;
    const at = (u: number, v: number): Point => [10 + u * Math.cos(angle) - v * Math.sin(angle), 20 + u * Math.sin(angle) + v * Math.cos(angle)];
    const crop = cropQuad(img, [at(0, 0), at(30, 0), at(30, 12), at(0, 12)]);
    expect([crop.width, crop.height]).toEqual([30, 12]);
    // r = x and g = y are linear, so bilinear sampling gives them back exactly (to rounding).
    for (const [u, v] of [[0, 0], [7, 3], [29, 11], [15, 6]] as const) {
      const [x, y] = at(u, v);
      expect(px(crop, u, v)[0]).toBeCloseTo(x, -0.5);
      expect(px(crop, u, v)[1]).toBeCloseTo(y, -0.5);
    }
  });

  it("turns a crop 1.5 times taller than wide a quarter counter-clockwise", () => {
    const img = gradient(20, 40);
    const crop = cropQuad(img, [[2, 2], [8, 2], [8, 20], [2, 20]]);
    expect([crop.width, crop.height]).toEqual([18, 6]);
    expect(crop).toEqual(rotate90(upright(img, [[2, 2], [8, 2], [8, 20], [2, 20]])));
    // 1.4 times taller stays as it is.
    expect(cropQuad(img, [[2, 2], [12, 2], [12, 16], [2, 16]])).toEqual(upright(img, [[2, 2], [12, 2], [12, 16], [2, 16]]));
  });

  it("repeats the edge beyond the image", () => {
    const img = gradient(10, 10);
    const crop = cropQuad(img, [[-4, 0], [6, 0], [6, 2], [-4, 2]]);
    expect(px(crop, 0, 0)).toEqual(px(img, 0, 0));
    expect(px(crop, 5, 1)).toEqual(px(img, 1, 1));
  });
});

/** The crop before any turn: the same quad's pixels, read row by row. */
function upright(img: RawImage, quad: Quad): RawImage {
  const [x0, y0] = quad[0];
  const [x1, y1] = quad[2];
  const width = x1 - x0, height = y1 - y0;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(px(img, x0 + x, y0 + y), (y * width + x) * 3);
  return { data, width, height, channels: 3 };
}

describe("rotate90 and rotate180", () => {
  const img: RawImage = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 3, height: 2, channels: 1 };

  it("turns a quarter counter-clockwise (numpy's rot90)", () => {
    // 1 2 3      3 6
    // 4 5 6  →   2 5
    //            1 4
    expect(rotate90(img)).toEqual({ data: Uint8Array.from([3, 6, 2, 5, 1, 4]), width: 2, height: 3, channels: 1 });
  });

  it("turns half a turn", () => {
    expect(rotate180(img)).toEqual({ data: Uint8Array.from([6, 5, 4, 3, 2, 1]), width: 3, height: 2, channels: 1 });
    expect(rotate180(rotate180(gradient(7, 5)))).toEqual(gradient(7, 5));
  });
});

describe("resize", () => {
  it("keeps an image of the same size as it is", () => {
    expect(resize(gradient(9, 4), 9, 4)).toEqual(gradient(9, 4));
  });

  it("averages 2x2 blocks when halving (half-pixel centres)", () => {
    const img: RawImage = { data: Uint8Array.from([0, 10, 20, 30, 100, 110, 120, 130]), width: 4, height: 2, channels: 1 };
    expect([...resize(img, 2, 1).data]).toEqual([55, 75]);
  });
});
