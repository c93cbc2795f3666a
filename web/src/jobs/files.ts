import { formatBytes } from "../ui/format.js";

/** The image types the API takes (common/image-sniff.ts), told by their first bytes as the API tells them. */
const TYPES = [
  { name: "PNG", contentType: "image/png", matches: (b: Uint8Array) => starts(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { name: "JPEG", contentType: "image/jpeg", matches: (b: Uint8Array) => starts(b, [0xff, 0xd8, 0xff]) },
  { name: "WebP", contentType: "image/webp", matches: (b: Uint8Array) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP" },
  { name: "GIF", contentType: "image/gif", matches: (b: Uint8Array) => ["GIF87a", "GIF89a"].includes(ascii(b, 0, 6)) },
  { name: "TIFF", contentType: "image/tiff", matches: (b: Uint8Array) => starts(b, [0x49, 0x49, 0x2a, 0x00]) || starts(b, [0x4d, 0x4d, 0x00, 0x2a]) },
  { name: "AVIF", contentType: "image/avif", matches: isAvif },
] as const;

/** What the file picker offers. */
export const ACCEPT = ".png,.jpg,.jpeg,.webp,.gif,.tif,.tiff,.avif,image/png,image/jpeg,image/webp,image/gif,image/tiff,image/avif";

export type FileCheck = { ok: true; file: File; contentType: string } | { ok: false; file: File; message: string };

/** Whether the API would take `file`: an image of a type it reads (by its bytes), no larger than `maxBytes` (GET /v1/me's limits). */
export async function checkFile(file: File, maxBytes: number): Promise<FileCheck> {
  if (file.size > maxBytes) return { ok: false, file, message: `${file.name} is ${formatBytes(file.size)}: the limit is ${formatBytes(maxBytes)} per image.` };
  if (file.size === 0) return { ok: false, file, message: `${file.name} is empty.` };
  const head = new Uint8Array(await readHead(file.slice(0, 64)));
  const type = TYPES.find((t) => t.matches(head));
  if (!type) return { ok: false, file, message: `${file.name} is not an image the API reads: use ${TYPES.map((t) => t.name).join(", ")}.` };
  return { ok: true, file, contentType: type.contentType };
}

function readHead(blob: Blob): Promise<ArrayBuffer> {
  if (typeof blob.arrayBuffer === "function") return blob.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error ?? new Error("the file could not be read"));
    reader.readAsArrayBuffer(blob);
  });
}

function starts(bytes: Uint8Array, signature: readonly number[]): boolean {
  return signature.every((b, i) => bytes[i] === b);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** ISO-BMFF: a leading `ftyp` box whose major or one of its compatible brands is avif/avis. */
function isAvif(bytes: Uint8Array): boolean {
  if (bytes.length < 12 || ascii(bytes, 4, 8) !== "ftyp") return false;
  const boxEnd = Math.min(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0), bytes.length);
  const brands = [ascii(bytes, 8, 12)];
  for (let at = 16; at + 4 <= boxEnd; at += 4) brands.push(ascii(bytes, at, at + 4));
  return brands.some((b) => b === "avif" || b === "avis");
}
