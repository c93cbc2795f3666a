import type { Point, ScoreMap } from "./geometry.js";

/** One 8-connected region of a binary map. */
export interface Component {
  /** Its pixels. */
  size: number;
  /**
   * The leftmost and rightmost pixel of each of its rows: every corner of the region's convex
   * hull is among them, at a fraction of the cost of all its pixels.
   */
  outline: Point[];
}

/**
 * The 8-connected regions of the pixels above `threshold` (PaddleOCR binarises with `>`), in
 * the order their first pixel is met scanning rows top to bottom. At most `limit` regions are
 * returned, so a map of noise stays cheap; `truncated` says when there were more.
 */
export function components(map: ScoreMap, threshold: number, limit: number): { found: Component[]; truncated: boolean } {
  const { width, height, data } = map;
  // 0: background or visited; 1: text not yet visited.
  const open = new Uint8Array(width * height);
  for (let i = 0; i < open.length; i++) open[i] = data[i]! > threshold ? 1 : 0;
  const found: Component[] = [];
  const stack: number[] = [];
  for (let start = 0; start < open.length; start++) {
    if (!open[start]) continue;
    if (found.length === limit) return { found, truncated: true };
    open[start] = 0;
    stack.push(start);
    const rows = new Map<number, [number, number]>();
    let size = 0;
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      size++;
      const row = rows.get(y);
      if (!row) rows.set(y, [x, x]);
      else if (x < row[0]) row[0] = x;
      else if (x > row[1]) row[1] = x;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (!open[j]) continue;
          open[j] = 0;
          stack.push(j);
        }
      }
    }
    const outline: Point[] = [];
    for (const [y, [x0, x1]] of rows) outline.push([x0, y], [x1, y]);
    found.push({ size, outline });
  }
  return { found, truncated: false };
}
