import type { RawImage } from "../tensors.js";
import type { Point, Quad } from "./geometry.js";

/** 3x3 row-major. */
type Matrix = readonly number[];

/**
 * The homography taking each `from` corner to its `to` corner (OpenCV's getPerspectiveTransform):
 * the 8 unknowns solved by Gaussian elimination with partial pivoting.
 */
export function perspective(from: Quad, to: Quad): Matrix {
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -x * u, -y * u, u]);
    a.push([0, 0, 0, x, y, 1, -x * v, -y * v, v]);
  }
  for (let col = 0; col < 8; col++) {
    let pivot = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) throw new Error("perspective: the corners are degenerate");
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / a[col]![col]!;
      for (let c = col; c < 9; c++) a[r]![c]! -= f * a[col]![c]!;
    }
  }
  return [...a.map((row, i) => row[8]! / row[i]!), 1];
}

export function applyMatrix(m: Matrix, [x, y]: Point): Point {
  const w = m[6]! * x + m[7]! * y + m[8]!;
  return [(m[0]! * x + m[1]! * y + m[2]!) / w, (m[3]! * x + m[4]! * y + m[5]!) / w];
}

/**
 * An image whose pixel (u, v) is the source sampled bilinearly at m · (u, v, 1), positions
 * clamped to the image (edge pixels repeated, OpenCV's BORDER_REPLICATE). Every map here
 * (crop, turn, resize) is such a matrix; the loop is flat because it runs over every pixel of
 * every line.
 */
function warp(src: RawImage, width: number, height: number, m: Matrix): RawImage {
  const ch = src.channels;
  const { data: from, width: sw, height: sh } = src;
  const data = new Uint8Array(width * height * ch);
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = m as [number, number, number, number, number, number, number, number, number];
  let o = 0;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const w = m6 * u + m7 * v + m8;
      const x = Math.min(Math.max((m0 * u + m1 * v + m2) / w, 0), sw - 1);
      const y = Math.min(Math.max((m3 * u + m4 * v + m5) / w, 0), sh - 1);
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      const dx = x0 + 1 < sw ? ch : 0;
      const dy = y0 + 1 < sh ? sw * ch : 0;
      const i = (y0 * sw + x0) * ch;
      for (let c = 0; c < ch; c++) {
        const a = from[i + c]!, b = from[i + c + dx]!, d = from[i + c + dy]!, e = from[i + c + dx + dy]!;
        const top = a + (b - a) * fx;
        const bottom = d + (e - d) * fx;
        data[o++] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return { data, width, height, channels: ch };
}

/**
 * The quad's content as an upright, axis-aligned image (PaddleOCR's get_rotate_crop_image):
 * as wide as its longer horizontal side and as tall as its longer vertical side, corners mapped
 * onto corners, sampled bilinearly. A crop at least 1.5 times taller than wide is a vertical
 * line: it is turned 90° counter-clockwise so its text runs left to right.
 */
export function cropQuad(img: RawImage, quad: Quad): RawImage {
  const [tl, tr, br, bl] = quad;
  const dist = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
  // Whole pixels, as PaddleOCR's int(); the epsilon keeps a side of 29.999999 (a turned box) at 30.
  const width = Math.max(1, Math.trunc(Math.max(dist(tl, tr), dist(bl, br)) + 1e-6));
  const height = Math.max(1, Math.trunc(Math.max(dist(tl, bl), dist(tr, br)) + 1e-6));
  const crop = warp(img, width, height, perspective([[0, 0], [width, 0], [width, height], [0, height]], quad));
  return height / width >= 1.5 ? rotate90(crop) : crop;
}

/** Turned 90° counter-clockwise (numpy's rot90): the top row becomes the left column, read upwards. */
export function rotate90(img: RawImage): RawImage {
  // Pixel (u, v) of the result is pixel (width - 1 - v, u) of the source.
  return warp(img, img.height, img.width, [0, -1, img.width - 1, 1, 0, 0, 0, 0, 1]);
}

/** Turned half a turn: upside-down text the right way up. */
export function rotate180(img: RawImage): RawImage {
  return warp(img, img.width, img.height, [-1, 0, img.width - 1, 0, -1, img.height - 1, 0, 0, 1]);
}

/** Bilinear resize without antialiasing (OpenCV's INTER_LINEAR, half-pixel centres), as PaddleOCR feeds its classifier and recogniser. */
export function resize(img: RawImage, width: number, height: number): RawImage {
  const sx = img.width / width, sy = img.height / height;
  return warp(img, width, height, [sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5, 0, 0, 1]);
}
