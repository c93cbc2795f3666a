import { components } from "./components.js";
import { boxScore, minAreaRect, orderPoints, unclipRect, type Point, type Quad, type ScoreMap } from "./geometry.js";

export interface BoxOptions {
  /** A pixel is text when its probability is above this. */
  threshold: number;
  /** A region is kept when the mean probability inside its rectangle is at least this. */
  boxThreshold: number;
  /** How far to grow each region (see unclipRect). */
  unclipRatio: number;
  /** Regions looked at, at most. */
  limit: number;
}

/** A text line found by the detector, in input image pixels. */
export interface TextBox {
  quad: Quad;
  /** The detector's mean probability over the region. */
  score: number;
}

/** Thinner than this (in map pixels) is noise; PaddleOCR's min_size. */
const MIN_SIDE = 3;

/**
 * A DBNet probability map's text lines (PaddleOCR's DBPostProcess, quad boxes): each region of
 * pixels above `threshold` becomes its minimum-area rectangle, kept when its mean probability is
 * at least `boxThreshold`, grown by `unclipRatio`, then scaled from the map to the image
 * (`width` × `height`) and clipped to it, corners rounded to whole pixels.
 */
export function textBoxes(map: ScoreMap, width: number, height: number, opts: BoxOptions): { boxes: TextBox[]; truncated: boolean } {
  const { found, truncated } = components(map, opts.threshold, opts.limit);
  const sx = width / map.width;
  const sy = height / map.height;
  const boxes: TextBox[] = [];
  for (const region of found) {
    const core = minAreaRect(region.outline);
    if (Math.min(core.width, core.height) < MIN_SIDE) continue;
    const score = boxScore(map, core.corners);
    if (score < opts.boxThreshold) continue;
    const grown = unclipRect(core, opts.unclipRatio);
    if (Math.min(grown.width, grown.height) < MIN_SIDE + 2) continue;
    const scaled = grown.corners.map(([x, y]): Point => [clamp(Math.round(x * sx), width - 1), clamp(Math.round(y * sy), height - 1)]);
    const quad = orderPoints(scaled);
    const [tl, tr, , bl] = quad;
    // Clipping can flatten a box on the image's edge into a sliver.
    if (Math.trunc(Math.hypot(tr[0] - tl[0], tr[1] - tl[1])) <= MIN_SIDE || Math.trunc(Math.hypot(bl[0] - tl[0], bl[1] - tl[1])) <= MIN_SIDE) continue;
    boxes.push({ quad, score });
  }
  return { boxes, truncated };
}

function clamp(v: number, max: number): number {
  return Math.min(Math.max(v, 0), max);
}

/** Lines whose tops are closer than this (pixels) are taken as one row, read left to right (PaddleOCR's sorted_boxes). */
const SAME_ROW = 10;

/** Reading order: top to bottom by each box's top-left corner, then left to right within a row. */
export function readingOrder<T extends { quad: Quad }>(boxes: readonly T[]): T[] {
  const sorted = [...boxes].sort((a, b) => a.quad[0][1] - b.quad[0][1] || a.quad[0][0] - b.quad[0][0]);
  for (let i = 0; i < sorted.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const [a, b] = [sorted[j]!, sorted[j + 1]!];
      if (Math.abs(b.quad[0][1] - a.quad[0][1]) < SAME_ROW && b.quad[0][0] < a.quad[0][0]) [sorted[j], sorted[j + 1]] = [b, a];
      else break;
    }
  }
  return sorted;
}
