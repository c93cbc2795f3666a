/** An image format the API accepts, known by its first bytes rather than by what the client claims. */
export interface ImageType {
  ext: "png" | "jpg" | "webp" | "gif" | "tiff" | "avif";
  contentType: string;
}

/** Every type sniffImageType knows, in its order: what an upload may declare (POST /v1/uploads). */
export const IMAGE_TYPES: readonly ImageType[] = [
  { ext: "png", contentType: "image/png" }, { ext: "jpg", contentType: "image/jpeg" }, { ext: "webp", contentType: "image/webp" },
  { ext: "gif", contentType: "image/gif" }, { ext: "tiff", contentType: "image/tiff" }, { ext: "avif", contentType: "image/avif" },
];

/** Enough bytes for every signature below, including an AVIF ftyp box's compatible brands. */
export const SNIFF_BYTES = 64;

const ascii = (bytes: Buffer, start: number, end: number) => bytes.toString("latin1", start, end);
const startsWith = (bytes: Buffer, signature: readonly number[]) => signature.every((b, i) => bytes[i] === b);

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const TIFF_LE = [0x49, 0x49, 0x2a, 0x00];
const TIFF_BE = [0x4d, 0x4d, 0x00, 0x2a];

/** The image type of a file starting with `head`, or undefined for anything else. */
export function sniffImageType(head: Buffer): ImageType | undefined {
  if (startsWith(head, PNG)) return { ext: "png", contentType: "image/png" };
  if (startsWith(head, JPEG)) return { ext: "jpg", contentType: "image/jpeg" };
  if (ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 12) === "WEBP") return { ext: "webp", contentType: "image/webp" };
  const gif = ascii(head, 0, 6);
  if (gif === "GIF87a" || gif === "GIF89a") return { ext: "gif", contentType: "image/gif" };
  if (startsWith(head, TIFF_LE) || startsWith(head, TIFF_BE)) return { ext: "tiff", contentType: "image/tiff" };
  if (isAvif(head)) return { ext: "avif", contentType: "image/avif" };
  return undefined;
}

/** ISO-BMFF: a leading `ftyp` box whose major or one of its compatible brands is avif/avis. */
function isAvif(head: Buffer): boolean {
  if (head.length < 12 || ascii(head, 4, 8) !== "ftyp") return false;
  const boxEnd = Math.min(head.readUInt32BE(0), head.length);
  const brands = [ascii(head, 8, 12)];
  // After the major brand come the minor version (4 bytes) and then the compatible brands.
  for (let at = 16; at + 4 <= boxEnd; at += 4) brands.push(ascii(head, at, at + 4));
  return brands.some((b) => b === "avif" || b === "avis");
}
