import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { decode, encode } from "./image-io.js";
import { declaredPng, png, randomImage } from "../../test/support/inference.js";

const MAX = 40_000_000;

describe("decode", () => {
  it("gives 8-bit RGB of a PNG exactly", async () => {
    const img = randomImage(7, 5, 1);
    expect(await decode(await png(img), MAX)).toEqual(img);
  });

  it("refuses a tiny file declaring 30000x30000 with InputTooLarge, fast", async () => {
    const bomb = declaredPng(30000, 30000);
    expect(bomb.length).toBeLessThan(200);
    const started = performance.now();
    await expect(decode(bomb, MAX)).rejects.toMatchObject({ reason: "InputTooLarge", message: expect.stringContaining("MAX_INPUT_PIXELS") as unknown });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("counts pixels against the limit it is given", async () => {
    await expect(decode(await png(randomImage(20, 10, 2)), 199)).rejects.toMatchObject({ reason: "InputTooLarge" });
    await expect(decode(await png(randomImage(20, 10, 2)), 200)).resolves.toMatchObject({ width: 20, height: 10 });
  });

  it("refuses a text file with InvalidImage", async () => {
    await expect(decode(Buffer.from("hello, this is not an image\n"), MAX)).rejects.toMatchObject({ reason: "InvalidImage" });
  });

  it.each(["png", "jpeg", "webp"] as const)("refuses a truncated %s with InvalidImage", async (format) => {
    const img = randomImage(64, 64, 3);
    const whole = await sharp(img.data, { raw: { width: 64, height: 64, channels: 3 } }).toFormat(format).toBuffer();
    await expect(decode(whole.subarray(0, Math.floor(whole.length * 0.9)), MAX)).rejects.toMatchObject({ reason: "InvalidImage" });
  });

  it("turns the image upright per its EXIF orientation", async () => {
    // 3x2 stored, orientation 6 (rotate 90° clockwise to view): decoded as 2x3.
    const stored = await sharp(randomImage(3, 2, 4).data, { raw: { width: 3, height: 2, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(await decode(stored, MAX)).toMatchObject({ width: 2, height: 3 });
  });

  it("drops alpha and expands grayscale to RGB", async () => {
    const rgba = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } }).png().toBuffer();
    expect(await decode(rgba, MAX)).toEqual({ data: Uint8Array.from([10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30]), width: 2, height: 2, channels: 3 });
    const gray = await sharp(Uint8Array.of(0, 128), { raw: { width: 2, height: 1, channels: 1 } }).png().toBuffer();
    expect([...(await decode(gray, MAX)).data]).toEqual([0, 0, 0, 128, 128, 128]);
  });
});

describe("decode: hostile and unusual inputs", () => {
  const sample = (format: "png" | "jpeg" | "webp") => sharp(randomImage(64, 64, 9).data, { raw: { width: 64, height: 64, channels: 3 } }).toFormat(format).toBuffer();
  const xor = (bytes: Buffer, from: number, length: number): Buffer => {
    const out = Buffer.from(bytes);
    for (let i = from; i < from + length; i++) out[i]! ^= 0x5a;
    return out;
  };

  it("refuses a zero-byte input with InvalidImage, saying it is empty", async () => {
    await expect(decode(Buffer.alloc(0), MAX)).rejects.toMatchObject({ reason: "InvalidImage", message: "the input is empty (0 bytes)" });
  });

  it.each(["png", "jpeg", "webp"] as const)("refuses a %s cut after its signature with InvalidImage", async (format) => {
    const whole = await sample(format);
    await expect(decode(whole.subarray(0, 16), MAX)).rejects.toMatchObject({ reason: "InvalidImage", message: expect.stringMatching(/^the input is not a readable image: /) as unknown });
  });

  // Damage the decoder can see: PNG's chunk CRCs, JPEG's tables and frame header, WebP's chunk sizes.
  it.each([["png", 0.5], ["jpeg", 0.05], ["webp", 16]] as const)("refuses a structurally corrupt %s with InvalidImage", async (format, where) => {
    const whole = await sample(format);
    const at = where < 1 ? Math.floor(whole.length * where) : where;
    await expect(decode(xor(whole, at, 8), MAX)).rejects.toMatchObject({ reason: "InvalidImage" });
  });

  it("refuses SVG, with or without an XML prolog, and never renders it", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><image href="https://169.254.169.254/latest/meta-data" width="8" height="8"/></svg>';
    for (const text of [svg, `<?xml version="1.0"?>\n${svg}`]) {
      await expect(decode(Buffer.from(text), MAX)).rejects.toMatchObject({
        reason: "InvalidImage", message: "the input is not a PNG, JPEG, WebP, GIF, TIFF or AVIF image (SVG is not accepted: it is never rendered)",
      });
    }
    // sharp itself would render it: the refusal is ours, before sharp sees the bytes.
    expect((await sharp(Buffer.from(svg)).metadata()).format).toBe("svg");
  });

  it("reads a polyglot as the image its first bytes say, ignoring what follows", async () => {
    const img = randomImage(6, 5, 3);
    const trailer = Buffer.from("PK\x03\x04\x14\x00\x00\x00META-INF/MANIFEST.MF<html><script>alert(1)</script></html>", "latin1");
    expect(await decode(Buffer.concat([await png(img), trailer]), MAX)).toEqual(img);
    const gif = await sharp({ create: { width: 3, height: 2, channels: 3, background: "#ff0000" } }).gif().toBuffer();
    expect(await decode(Buffer.concat([gif, trailer]), MAX)).toMatchObject({ width: 3, height: 2, data: Uint8Array.from(Array<number[]>(6).fill([255, 0, 0]).flat()) });
    // An HTML page with a PNG inside is not a PNG.
    await expect(decode(Buffer.concat([Buffer.from("<html><body>"), await png(img)]), MAX)).rejects.toMatchObject({ reason: "InvalidImage" });
    // A PNG signature in front of JPEG data is what its signature says, a broken PNG.
    await expect(decode(Buffer.concat([(await png(img)).subarray(0, 8), await sample("jpeg")]), MAX)).rejects.toMatchObject({ reason: "InvalidImage" });
  });

  it("scales a 16-bit PNG to 8 bits", async () => {
    const levels = [0, 65535, 32896, 1028]; // 8-bit 0, 255, 128, 4
    const wide = Uint16Array.from(levels.flatMap((v) => [v, v, v]));
    const png16 = await sharp(wide, { raw: { width: 2, height: 2, channels: 3 } }).toColourspace("rgb16").png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe("ushort");
    expect(await decode(png16, MAX)).toEqual({ data: Uint8Array.from([0, 255, 128, 4].flatMap((v) => [v, v, v])), width: 2, height: 2, channels: 3 });
  });

  it("converts a CMYK JPEG to sRGB", async () => {
    const cmyk = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 200, g: 30, b: 40 } } }).toColourspace("cmyk").jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe("cmyk");
    const out = await decode(cmyk, MAX);
    expect(out).toMatchObject({ width: 4, height: 4, channels: 3 });
    const [r, g, b] = out.data;
    expect(r).toBeGreaterThan(150); // still red: converted, not read as if its channels were RGB
    expect(g).toBeLessThan(60);
    expect(b).toBeLessThan(60);
  });

  it("takes the first frame of an animated GIF and says so", async () => {
    const red = Buffer.alloc(4 * 4 * 4).fill(Buffer.from([255, 0, 0, 255]));
    const blue = Buffer.alloc(4 * 4 * 4).fill(Buffer.from([0, 0, 255, 255]));
    const gif = await sharp(Buffer.concat([red, blue]), { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const out = await decode(gif, MAX);
    expect(out).toMatchObject({ width: 4, height: 4, notes: ["the input has 2 frames; only the first was used"] });
    expect([...out.data.subarray(0, 3)]).toEqual([255, 0, 0]);
    expect((await decode(await png(randomImage(2, 2, 1)), MAX)).notes).toBeUndefined();
  });

  it("refuses a tiny file declaring 50000x50000 with InputTooLarge, before decoding pixels", async () => {
    const bomb = declaredPng(50000, 50000);
    expect(bomb.length).toBeLessThan(200);
    await expect(decode(bomb, MAX)).rejects.toMatchObject({ reason: "InputTooLarge", message: `the image has more than ${MAX} pixels (MAX_INPUT_PIXELS)` });
  });
});

describe("encode", () => {
  it.each([["png", "image/png"], ["webp", "image/webp"], ["jpeg", "image/jpeg"]] as const)("writes %s", async (format, contentType) => {
    const out = await encode(randomImage(9, 4, 5), format, 90);
    expect(out.contentType).toBe(contentType);
    expect(await sharp(out.body).metadata()).toMatchObject({ format, width: 9, height: 4 });
  });

  it("writes a 1-channel image as a grayscale PNG, losslessly", async () => {
    const gray = randomImage(5, 3, 6, 1);
    const out = await encode(gray, "png");
    expect((await sharp(out.body).metadata()).channels).toBe(1);
    const { data, info } = await sharp(out.body).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(1);
    expect(new Uint8Array(data)).toEqual(gray.data);
  });
});
