import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writePng } from "./png-stream.js";

let dir: string;
beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), "png-stream-"))));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Pixels with structure (gradients) and noise, so every filter byte and the deflate are exercised. */
function pixels(width: number, height: number, channels: number): Uint8Array {
  const data = new Uint8Array(width * height * channels);
  let seed = 7;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const x = Math.floor(i / channels) % width, y = Math.floor(i / channels / width);
    data[i] = (x * 3 + y * 5 + (seed % 17)) & 0xff;
  }
  return data;
}

describe("the streaming PNG writer", () => {
  it.each([[1, 257, 131], [3, 300, 200], [3, 1, 1]])("writes %i-channel %ix%i rows in uneven bands that decode to the same pixels", async (channels, width, height) => {
    const data = pixels(width, height, channels);
    const path = join(dir, `out-${channels}-${width}.png`);
    const png = writePng(path, width, height, channels);
    const stride = width * channels;
    for (let y = 0, band = 1; y < height; y += band, band = band * 2 + 1) {
      // A reused band buffer: the writer must not keep a reference to it.
      const rows = new Uint8Array(Math.min(band, height - y) * stride);
      rows.set(data.subarray(y * stride, y * stride + rows.length));
      await png.write(rows);
      rows.fill(0);
    }
    await png.close();
    expect(await sharp(path).metadata()).toMatchObject({ format: "png", width, height, channels, depth: "uchar" });
    // sharp widens grayscale to sRGB unless told otherwise.
    const read = channels === 1 ? sharp(path).toColourspace("b-w") : sharp(path);
    const { data: decoded, info } = await read.raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width, height, channels });
    expect(Buffer.compare(decoded, Buffer.from(data))).toBe(0);
  });

  it("refuses to close an image with rows missing, and a band that is not whole rows", async () => {
    const png = writePng(join(dir, "short.png"), 10, 10, 3);
    await expect(png.write(new Uint8Array(29))).rejects.toThrow(/not whole rows of 30/);
    await png.write(new Uint8Array(30 * 9));
    await expect(png.close()).rejects.toThrow(/9 rows written of 10/);
    png.destroy();
  });

  it("reports a file it cannot write on the next call instead of crashing the process", async () => {
    const png = writePng(join(dir, "no-such-dir", "x.png"), 4, 4, 1);
    await new Promise((r) => setTimeout(r, 50));
    await expect(png.write(new Uint8Array(16))).rejects.toThrow(/ENOENT/);
    png.destroy();
  });
});
