import type { RawImage } from "./tensors.js";

/** A square-ish window of the input, and the part of it whose output is kept. */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Kept region in input coordinates, [x0, x1) × [y0, y1); the tiles' kept regions partition the image. */
  keep: { x0: number; y0: number; x1: number; y1: number };
}

interface Span {
  start: number;
  length: number;
  keep0: number;
  keep1: number;
}

/**
 * Tiles of at most `size` pixels a side, neighbours overlapping by at least `overlap`. Each tile
 * keeps its output up to the middle of each overlap and drops the rest (crop, no blending): so a
 * model whose output pixel depends only on inputs within overlap/2 pixels gives exactly the
 * untiled result, and seams of larger-context models sit where both tiles saw context.
 */
export function planTiles(width: number, height: number, size: number, overlap: number): Tile[] {
  const xs = spans(width, size, overlap);
  const ys = spans(height, size, overlap);
  return ys.flatMap((sy) => xs.map((sx) => ({
    x: sx.start,
    y: sy.start,
    width: sx.length,
    height: sy.length,
    keep: { x0: sx.keep0, y0: sy.keep0, x1: sx.keep1, y1: sy.keep1 },
  })));
}

function spans(total: number, size: number, overlap: number): Span[] {
  if (total <= size) return [{ start: 0, length: total, keep0: 0, keep1: total }];
  const stride = Math.max(1, size - overlap);
  const starts: number[] = [];
  for (let s = 0; s + size < total; s += stride) starts.push(s);
  // The last tile ends at the image's edge, so every tile has the full size.
  starts.push(total - size);
  return starts.map((start, i) => {
    const prev = starts[i - 1];
    const next = starts[i + 1];
    return {
      start,
      length: size,
      keep0: prev === undefined ? 0 : middle(start, prev + size),
      keep1: next === undefined ? total : middle(next, start + size),
    };
  });
}

function middle(a: number, b: number): number {
  return Math.floor((a + b) / 2);
}

/** Copies the kept part of one tile's output (already `scale` times its size) into the result. */
export function stitch(target: RawImage, out: RawImage, tile: Tile, scale: number): void {
  const c = target.channels;
  const x0 = tile.keep.x0 * scale, x1 = tile.keep.x1 * scale;
  const ox = tile.x * scale, oy = tile.y * scale;
  for (let y = tile.keep.y0 * scale; y < tile.keep.y1 * scale; y++) {
    const src = ((y - oy) * out.width + (x0 - ox)) * c;
    target.data.set(out.data.subarray(src, src + (x1 - x0) * c), (y * target.width + x0) * c);
  }
}

/** The pixels of one tile, copied out of the image. */
export function crop(img: RawImage, tile: Pick<Tile, "x" | "y" | "width" | "height">): RawImage {
  if (tile.x === 0 && tile.y === 0 && tile.width === img.width && tile.height === img.height) return img;
  const c = img.channels;
  const data = new Uint8Array(tile.width * tile.height * c);
  for (let y = 0; y < tile.height; y++) {
    const src = ((tile.y + y) * img.width + tile.x) * c;
    data.set(img.data.subarray(src, src + tile.width * c), y * tile.width * c);
  }
  return { data, width: tile.width, height: tile.height, channels: c };
}
