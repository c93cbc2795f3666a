/** A point in pixel coordinates: x to the right, y down. */
export type Point = readonly [x: number, y: number];

/** Four corners in reading order: top-left, top-right, bottom-right, bottom-left. */
export type Quad = readonly [Point, Point, Point, Point];

/** A rectangle at any angle: its corners in reading order and its side lengths. */
export interface RotatedRect {
  corners: Quad;
  /** Along the top side (tl → tr). */
  width: number;
  /** Along the left side (tl → bl). */
  height: number;
}

const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** The convex hull (Andrew's monotone chain), counter-clockwise in y-up terms, without collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return dedupe(sorted);
  const half = (pts: readonly Point[]): Point[] => {
    const out: Point[] = [];
    for (const p of pts) {
      while (out.length >= 2 && cross(out[out.length - 2]!, out[out.length - 1]!, p) <= 0) out.pop();
      out.push(p);
    }
    out.pop();
    return out;
  };
  return dedupe([...half(sorted), ...half(sorted.reverse())]);
}

function dedupe(points: readonly Point[]): Point[] {
  return points.filter((p, i) => i === 0 || p[0] !== points[i - 1]![0] || p[1] !== points[i - 1]![1]);
}

/**
 * The rectangle of least area around the points (rotating calipers: one side of the best
 * rectangle lies on an edge of the convex hull). Degenerate inputs give a zero width or height.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) throw new Error("minAreaRect of no points");
  let best: { area: number; corners: Point[] } | undefined;
  const edges = hull.length === 1 ? 1 : hull.length;
  for (let i = 0; i < edges; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    // The edge's direction (u) and its normal (v); a lone point gets the axes.
    const u: Point = len > 0 ? [(b[0] - a[0]) / len, (b[1] - a[1]) / len] : [1, 0];
    const v: Point = [-u[1], u[0]];
    let [minU, maxU, minV, maxV] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of hull) {
      const pu = p[0] * u[0] + p[1] * u[1];
      const pv = p[0] * v[0] + p[1] * v[1];
      minU = Math.min(minU, pu); maxU = Math.max(maxU, pu);
      minV = Math.min(minV, pv); maxV = Math.max(maxV, pv);
    }
    const area = (maxU - minU) * (maxV - minV);
    if (best && area >= best.area - 1e-9) continue;
    const at = (pu: number, pv: number): Point => [pu * u[0] + pv * v[0], pu * u[1] + pv * v[1]];
    best = { area, corners: [at(minU, minV), at(maxU, minV), at(maxU, maxV), at(minU, maxV)] };
  }
  return rectFrom(orderPoints(best!.corners));
}

function rectFrom(corners: Quad): RotatedRect {
  const [tl, tr, , bl] = corners;
  return { corners, width: Math.hypot(tr[0] - tl[0], tr[1] - tl[1]), height: Math.hypot(bl[0] - tl[0], bl[1] - tl[1]) };
}

/**
 * Four corners in reading order (PaddleOCR's rule): the two leftmost are the left side, the
 * upper of them top-left; the two rightmost the right side, the upper of them top-right.
 */
export function orderPoints(points: readonly Point[]): Quad {
  if (points.length !== 4) throw new Error(`orderPoints takes 4 points, got ${points.length}`);
  const byX = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const [l0, l1, r0, r1] = byX as [Point, Point, Point, Point];
  const [tl, bl] = l0[1] <= l1[1] ? [l0, l1] : [l1, l0];
  const [tr, br] = r0[1] <= r1[1] ? [r0, r1] : [r1, r0];
  return [tl, tr, br, bl];
}

/**
 * DBNet's regions are the shrunk cores of text; it was trained to have them grown back by the
 * distance area × ratio / perimeter (PaddleOCR's "unclip"). A rectangle grown that far on every
 * side, around the same centre and at the same angle.
 */
export function unclipRect(rect: RotatedRect, ratio: number): RotatedRect {
  const { width: w, height: h, corners } = rect;
  const perimeter = 2 * (w + h);
  const d = perimeter > 0 ? (w * h * ratio) / perimeter : 0;
  const [tl, tr, , bl] = corners;
  const u: Point = w > 0 ? [(tr[0] - tl[0]) / w, (tr[1] - tl[1]) / w] : [1, 0];
  const v: Point = h > 0 ? [(bl[0] - tl[0]) / h, (bl[1] - tl[1]) / h] : [-u[1], u[0]];
  const cx = (corners[0][0] + corners[2][0]) / 2;
  const cy = (corners[0][1] + corners[2][1]) / 2;
  const [hw, hh] = [w / 2 + d, h / 2 + d];
  const at = (su: number, sv: number): Point => [cx + su * hw * u[0] + sv * hh * v[0], cy + su * hw * u[1] + sv * hh * v[1]];
  return rectFrom(orderPoints([at(-1, -1), at(1, -1), at(1, 1), at(-1, 1)]));
}

/** Whether p lies inside (or on) the convex polygon, whichever way round its corners go. */
export function insideConvex(poly: readonly Point[], p: Point): boolean {
  let sign = 0;
  for (let i = 0; i < poly.length; i++) {
    const c = cross(poly[i]!, poly[(i + 1) % poly.length]!, p);
    if (Math.abs(c) < 1e-9) continue;
    const s = Math.sign(c);
    if (sign !== 0 && s !== sign) return false;
    sign = s;
  }
  return true;
}

/** A probability map, one float per pixel, row by row. */
export interface ScoreMap {
  data: Float32Array;
  width: number;
  height: number;
}

/**
 * The mean probability of the map's pixels inside the quad (PaddleOCR's box score): how sure the
 * detector is of the region as a whole, not only of its brightest pixel. 0 when no pixel is inside.
 */
export function boxScore(map: ScoreMap, quad: Quad): number {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs))), x1 = Math.min(map.width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys))), y1 = Math.min(map.height - 1, Math.ceil(Math.max(...ys)));
  let sum = 0;
  let n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!insideConvex(quad, [x, y])) continue;
      sum += map.data[y * map.width + x]!;
      n++;
    }
  }
  return n ? sum / n : 0;
}
