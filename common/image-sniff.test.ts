import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { sniffImageType } from "./image-sniff.js";

const ascii = (s: string) => Buffer.from(s, "latin1");

describe("sniffImageType", () => {
  it.each([
    ["png", "image/png"],
    ["jpeg", "image/jpeg"],
    ["webp", "image/webp"],
    ["gif", "image/gif"],
    ["tiff", "image/tiff"],
    ["avif", "image/avif"],
  ] as const)("knows %s as sharp writes it", async (format, contentType) => {
    const image = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#336699" } }).toFormat(format).toBuffer();
    expect(sniffImageType(image.subarray(0, 64))?.contentType).toBe(contentType);
  });

  it("knows big-endian TIFF and AVIF named only among the compatible brands", () => {
    expect(sniffImageType(Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]))?.ext).toBe("tiff");
    const box = Buffer.concat([Buffer.from([0, 0, 0, 24]), ascii("ftypmif1"), Buffer.from([0, 0, 0, 0]), ascii("mif1avif")]);
    expect(sniffImageType(box)?.ext).toBe("avif");
  });

  it.each([
    ["text", ascii("hello, world, this is not an image")],
    ["empty", Buffer.alloc(0)],
    ["a truncated PNG signature", Buffer.from([0x89, 0x50, 0x4e, 0x47])],
    ["RIFF that is not WebP", ascii("RIFF\0\0\0\0WAVEfmt ")],
    ["an MP4 ftyp box", Buffer.concat([Buffer.from([0, 0, 0, 20]), ascii("ftypisom"), Buffer.from([0, 0, 0, 0]), ascii("mp41")])],
    ["SVG", ascii('<svg xmlns="http://www.w3.org/2000/svg"/>')],
  ])("refuses %s", (_, bytes) => {
    expect(sniffImageType(bytes)).toBeUndefined();
  });
});
