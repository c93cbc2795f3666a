import sharp from "sharp";

/** A distinct tiny PNG (4×4): its pixels spell `i` and `salt`, so no two jobs share a result-cache key. */
export function tinyImage(i: number, salt: number): Promise<Buffer> {
  const raw = Buffer.alloc(4 * 4 * 3);
  for (let p = 0; p < 16; p++) raw.writeUIntBE((i * 16 + p + salt) & 0xffffff, p * 3, 3);
  return sharp(raw, { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
}

/** A salt for one run: images of two runs on the same Redis differ too. */
export const runSalt = () => Date.now() & 0xffffff;

/** `n` distinct tiny PNGs of one run. */
export function tinyImages(n: number): Promise<Buffer[]> {
  const salt = runSalt();
  return Promise.all(Array.from({ length: n }, (_, i) => tinyImage(i, salt)));
}
