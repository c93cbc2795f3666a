import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { decode, encode } from "./image-io.js";
import { declaredPng, png, randomImage } from "./testing/helpers.js";

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
