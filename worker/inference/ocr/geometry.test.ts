import { describe, expect, it } from "vitest";
import { boxScore, convexHull, insideConvex, minAreaRect, orderPoints, unclipRect, type Point, type Quad } from "./geometry.js";

/** The points of a filled w×h grid turned by `angle` radians around (cx, cy). */
function rotatedGrid(w: number, h: number, angle: number, cx = 50, cy = 50): Point[] {
  const out: Point[] = [];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y <= h; y++) for (let x = 0; x <= w; x++) out.push([cx + (x - w / 2) * c - (y - h / 2) * s, cy + (x - w / 2) * s + (y - h / 2) * c]);
  return out;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const area = (q: Quad): number => Math.abs(q.reduce((sum, p, i) => sum + p[0] * q[(i + 1) % 4]![1] - q[(i + 1) % 4]![0] * p[1], 0)) / 2;

describe("convexHull", () => {
  it("keeps the corners of a filled grid, and no point on its edges", () => {
    const hull = convexHull(rotatedGrid(4, 3, 0, 2, 1.5));
    expect(new Set(hull.map((p) => p.join()))).toEqual(new Set(["0,0", "4,0", "4,3", "0,3"]));
  });

  it("handles one point, two points and repeats", () => {
    expect(convexHull([[1, 1], [1, 1]])).toEqual([[1, 1]]);
    expect(convexHull([[3, 0], [0, 0], [3, 0]])).toEqual([[0, 0], [3, 0]]);
  });
});

describe("minAreaRect", () => {
  it("finds an axis-aligned rectangle's own corners", () => {
    const rect = minAreaRect(rotatedGrid(40, 10, 0));
    expect(rect.width).toBeCloseTo(40, 9);
    expect(rect.height).toBeCloseTo(10, 9);
    expect(rect.corners.map((p) => p.map((v) => Math.round(v * 1e6) / 1e6))).toEqual([[30, 45], [70, 45], [70, 55], [30, 55]]);
  });

  it.each([5, 17, 30, -12])("finds a rectangle turned by %i° at its angle and size", (deg) => {
    const angle = (deg * Math.PI) / 180;
    const rect = minAreaRect(rotatedGrid(60, 12, angle));
    expect(rect.width).toBeCloseTo(60, 6);
    expect(rect.height).toBeCloseTo(12, 6);
    const [tl, tr] = rect.corners;
    expect(Math.atan2(tr[1] - tl[1], tr[0] - tl[0])).toBeCloseTo(angle, 6);
  });

  it("is never larger than the bounding rectangle at any angle (random point sets)", () => {
    const next = random(7);
    for (let trial = 0; trial < 20; trial++) {
      const pts: Point[] = Array.from({ length: 3 + Math.floor(next() * 30) }, () => [Math.round(next() * 100), Math.round(next() * 40)]);
      const rect = minAreaRect(pts);
      expect(area(rect.corners)).toBeCloseTo(rect.width * rect.height, 6);
      for (const p of pts) expect(insideConvex(rect.corners, p) || distanceToQuad(rect.corners, p) < 1e-6).toBe(true);
      for (let a = 0; a < 180; a += 0.5) {
        const t = (a * Math.PI) / 180;
        const us = pts.map((p) => p[0] * Math.cos(t) + p[1] * Math.sin(t));
        const vs = pts.map((p) => -p[0] * Math.sin(t) + p[1] * Math.cos(t));
        const bounding = (Math.max(...us) - Math.min(...us)) * (Math.max(...vs) - Math.min(...vs));
        expect(rect.width * rect.height).toBeLessThanOrEqual(bounding + 1e-6);
      }
    }
  });

  it("gives zero height for points on one line", () => {
    const rect = minAreaRect([[0, 0], [5, 0], [10, 0]]);
    expect([rect.width, rect.height]).toEqual([10, 0]);
  });
});

function distanceToQuad(q: Quad, p: Point): number {
  return Math.min(...q.map((a, i) => {
    const b = q[(i + 1) % 4]!;
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
  }));
}

describe("orderPoints", () => {
  it("puts shuffled corners in reading order", () => {
    const q: Point[] = [[10, 0], [0, 5], [0, 0], [10, 5]];
    expect(orderPoints(q)).toEqual([[0, 0], [10, 0], [10, 5], [0, 5]]);
  });

  it("keeps reading order for a slightly turned box, either way", () => {
    expect(orderPoints([[100, 10], [2, 0], [98, 30], [0, 20]])).toEqual([[2, 0], [100, 10], [98, 30], [0, 20]]);
    expect(orderPoints([[0, 10], [100, 0], [102, 20], [2, 30]])).toEqual([[0, 10], [100, 0], [102, 20], [2, 30]]);
  });
});

describe("unclipRect", () => {
  it("grows each side by area x ratio / perimeter around the same centre", () => {
    const rect = minAreaRect(rotatedGrid(100, 10, 0));
    const grown = unclipRect(rect, 1.5);
    const d = (100 * 10 * 1.5) / 220;
    expect(grown.width).toBeCloseTo(100 + 2 * d, 9);
    expect(grown.height).toBeCloseTo(10 + 2 * d, 9);
    expect(grown.corners[0][0]).toBeCloseTo(0 - d, 9);
    expect(grown.corners[0][1]).toBeCloseTo(45 - d, 9);
  });

  it("keeps a turned rectangle's angle", () => {
    const angle = (10 * Math.PI) / 180;
    const grown = unclipRect(minAreaRect(rotatedGrid(80, 8, angle)), 2);
    const [tl, tr, , bl] = grown.corners;
    expect(Math.atan2(tr[1] - tl[1], tr[0] - tl[0])).toBeCloseTo(angle, 6);
    expect(Math.atan2(bl[1] - tl[1], bl[0] - tl[0])).toBeCloseTo(angle + Math.PI / 2, 6);
    expect((tl[0] + grown.corners[2][0]) / 2).toBeCloseTo(50, 6);
  });
});

describe("boxScore", () => {
  it("is the mean probability of the pixels inside the quad", () => {
    // 10x4 map: left half 1, right half 0.
    const data = Float32Array.from({ length: 40 }, (_, i) => (i % 10 < 5 ? 1 : 0));
    const map = { data, width: 10, height: 4 };
    expect(boxScore(map, [[0, 0], [9, 0], [9, 3], [0, 3]])).toBeCloseTo(0.5, 9);
    expect(boxScore(map, [[0, 0], [4, 0], [4, 3], [0, 3]])).toBe(1);
    // A triangle-ish quad: only pixels inside count.
    expect(boxScore(map, [[5, 0], [9, 0], [9, 3], [5, 3]])).toBe(0);
    expect(boxScore(map, [[20, 20], [30, 20], [30, 30], [20, 30]])).toBe(0);
  });
});
