import sharp from "sharp";
import type { OutputFormat } from "../../common/crd-types.js";
import { JobFailure } from "../../common/errors.js";
import type { RawImage } from "./tensors.js";

const CONTENT_TYPES: Record<OutputFormat, string> = { png: "image/png", webp: "image/webp", jpeg: "image/jpeg" };

/**
 * Decodes any format sharp reads into 8-bit RGB, upright per its EXIF orientation. Alpha is
 * dropped (the models take colour only) and the first frame of an animation is used.
 * sharp reads the header first and refuses images over `maxPixels` before allocating pixels, so a
 * tiny file declaring a huge image fails fast. Truncated or corrupt data is refused too
 * (failOn "error"), instead of decoding a half-grey picture.
 */
export async function decode(input: Buffer, maxPixels: number): Promise<RawImage> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: "error" })
      .rotate()
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    throw decodeFailure(err, maxPixels);
  }
}

function decodeFailure(err: unknown, maxPixels: number): JobFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) {
    return new JobFailure("InputTooLarge", `the image has more than ${maxPixels} pixels (MAX_INPUT_PIXELS)`, { cause: err });
  }
  return new JobFailure("InvalidImage", `the input is not a readable image: ${firstLine(message)}`, { cause: err });
}

function firstLine(message: string): string {
  return message.split("\n", 1)[0]?.trim() || "unknown decoder error";
}

export interface Encoded {
  body: Buffer;
  contentType: string;
}

/** Encodes 8-bit pixels (1 channel: grayscale, 3: RGB); quality applies to webp and jpeg. */
export async function encode(img: RawImage, format: OutputFormat, quality?: number): Promise<Encoded> {
  const raw = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
  // sharp would widen 1 channel to sRGB; b-w keeps grayscale PNG and JPEG one channel (WebP has no such mode).
  const pipeline = img.channels === 1 ? raw.toColourspace("b-w") : raw;
  const encoded = format === "png" ? pipeline.png() : format === "webp" ? pipeline.webp({ quality }) : pipeline.jpeg({ quality });
  try {
    return { body: await encoded.toBuffer(), contentType: CONTENT_TYPES[format] };
  } catch (err) {
    throw new JobFailure("InferenceError", `encoding the output as ${format} failed: ${firstLine((err as Error).message)}`, { cause: err });
  }
}
