import sharp from "sharp";
import { SNIFF_BYTES, sniffImageType, type ImageType } from "../../common/image-sniff.js";
import type { OutputFormat } from "../../common/crd-types.js";
import { firstLine, JobFailure } from "../../common/errors.js";
import type { RawImage } from "./tensors.js";

export const CONTENT_TYPES: Record<OutputFormat, string> = { png: "image/png", webp: "image/webp", jpeg: "image/jpeg" };

/** A decoded input, with what the caller should tell the user about how it was read. */
export interface DecodedImage extends RawImage {
  /** E.g. that only the first frame of an animation was used; absent when there is nothing to say. */
  notes?: string[];
}

/** sharp's name for each format the API accepts (common/image-sniff.ts): the two must agree. */
const SHARP_FORMATS: Record<ImageType["ext"], string> = { png: "png", jpg: "jpeg", webp: "webp", gif: "gif", tiff: "tiff", avif: "heif" };

/**
 * Decodes the formats the API accepts (PNG, JPEG, WebP, GIF, TIFF, AVIF) into 8-bit RGB, upright
 * per its EXIF orientation; 16-bit images are scaled to 8 bits and CMYK or grayscale converted to
 * sRGB. Alpha is dropped (the models take colour only) and only the first frame of an animation
 * or multi-page file is used, which the result's notes say.
 * The first bytes decide the format, as at upload: anything else is refused before sharp sees
 * it, so an SVG (which could reference other files or URLs) is never rendered, and a polyglot
 * (a PNG with a zip or HTML after it, a GIF that is also a jar) is read as the image its first
 * bytes say, the rest ignored.
 * sharp reads the header first and refuses images over `maxPixels` before allocating pixels, so a
 * tiny file declaring a huge image fails fast. Truncated or structurally corrupt data is refused
 * too (failOn "error"), instead of decoding a half-grey picture; "warning" would also refuse
 * common, harmless files (PNGs with a slightly wrong sRGB profile), so damage inside compressed
 * JPEG or WebP data that the decoder only warns about decodes as a damaged picture.
 */
export async function decode(input: Buffer, maxPixels: number): Promise<DecodedImage> {
  const type = acceptedType(input);
  try {
    const meta = await sharp(input, { limitInputPixels: maxPixels, failOn: "error" }).metadata();
    if (meta.format !== SHARP_FORMATS[type.ext]) throw new Error(`its first bytes say ${type.ext} but it decodes as ${meta.format}`);
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: "error", pages: 1, page: 0 })
      .rotate()
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    const image: DecodedImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
    const pages = meta.pages ?? 1;
    if (pages > 1) image.notes = [`the input has ${pages} frames; only the first was used`];
    return image;
  } catch (err) {
    throw decodeFailure(err, maxPixels);
  }
}

/** The input's format by its first bytes; InvalidImage for an empty input or any other format. */
function acceptedType(input: Buffer): ImageType {
  if (input.length === 0) throw new JobFailure("InvalidImage", "the input is empty (0 bytes)");
  const type = sniffImageType(input.subarray(0, SNIFF_BYTES));
  if (type) return type;
  const svg = /<svg[\s>]/i.test(input.subarray(0, 4096).toString("latin1"));
  throw new JobFailure("InvalidImage", `the input is not a PNG, JPEG, WebP, GIF, TIFF or AVIF image${svg ? " (SVG is not accepted: it is never rendered)" : ""}`);
}

function decodeFailure(err: unknown, maxPixels: number): JobFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) {
    return new JobFailure("InputTooLarge", `the image has more than ${maxPixels} pixels (MAX_INPUT_PIXELS)`, { cause: err });
  }
  return new JobFailure("InvalidImage", `the input is not a readable image: ${firstLine(message) || "unknown decoder error"}`, { cause: err });
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
    throw new JobFailure("InferenceError", `encoding the output as ${format} failed: ${firstLine(err) || "unknown encoder error"}`, { cause: err });
  }
}

/** The image stretched to width × height (bilinear, no crop); itself when it has that size already. */
export async function resizeImage(image: RawImage, width: number, height: number): Promise<RawImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }).resize(width, height, { fit: "fill" }).raw().toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels: image.channels };
}
