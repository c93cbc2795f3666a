import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { constants, crc32, createDeflate, type Deflate } from "node:zlib";

/** Receives an image's rows top to bottom, a band at a time (ADR 0016). */
export interface RowWriter {
  /** Whole rows, `width * channels` bytes each; resolves once they are handed on (backpressure). */
  write(rows: Uint8Array): Promise<void>;
  /** After the last row: flushes and closes the file. Rejects if fewer rows than the height were written. */
  close(): Promise<void>;
  /** Stops early (a failed or canceled run); the file is left for the caller to remove. */
  destroy(): void;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** PNG colour types: 0 grayscale, 2 truecolour (RGB). */
const COLOUR_TYPE: Record<number, number> = { 1: 0, 3: 2 };
/** Filter type 2 (Up): each byte minus the byte above it; cheap, and it helps the deflate of photos and upscales a lot. */
const FILTER_UP = 2;
/** A chunk per this many compressed bytes. */
const IDAT_BYTES = 1 << 20;

/**
 * Writes an 8-bit grayscale or RGB PNG to `path` from rows that arrive in bands, holding one row
 * and the deflate window at a time: the encoder of outputs too large to hold whole (sharp encodes
 * only what it holds, and libvips refuses raw inputs over 16383² pixels by default). The format is
 * PNG 1.2: signature, IHDR, IDAT chunks of zlib data, IEND, each chunk with its CRC-32.
 */
export function writePng(path: string, width: number, height: number, channels: number, level = 6): RowWriter {
  const colourType = COLOUR_TYPE[channels];
  if (colourType === undefined) throw new Error(`PNG rows of ${channels} channels are not supported (1 or 3)`);
  const file = createWriteStream(path);
  const deflate = createDeflate({ level, chunkSize: 64 * 1024 });
  const stride = width * channels;
  let previous: Uint8Array = new Uint8Array(stride);
  let rowsWritten = 0;
  // A full disk or a destroyed stream: kept here, thrown by the next write or close (never an unhandled 'error').
  let failure: Error | undefined;
  const fail = (err: Error) => void (failure ??= err);
  file.on("error", fail);
  deflate.on("error", fail);
  const idat = collectIdat(deflate, file);
  idat.catch(fail);
  const check = () => {
    if (failure) throw failure;
  };

  file.write(SIGNATURE);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, colourType, 0, 0, 0], 8);
  file.write(chunk("IHDR", ihdr));

  return {
    async write(rows) {
      check();
      if (rows.length % stride !== 0) throw new Error(`a band of ${rows.length} bytes is not whole rows of ${stride}`);
      const count = rows.length / stride;
      if (rowsWritten + count > height) throw new Error(`more rows than the image's height (${height})`);
      const filtered = Buffer.allocUnsafe(count * (stride + 1));
      for (let r = 0; r < count; r++) {
        const row = rows.subarray(r * stride, (r + 1) * stride);
        const out = r * (stride + 1);
        filtered[out] = FILTER_UP;
        for (let i = 0; i < stride; i++) filtered[out + 1 + i] = (row[i]! - previous[i]!) & 0xff;
        previous = row;
      }
      // Keep the last row by value: the caller may reuse its band buffer.
      previous = Uint8Array.from(previous);
      rowsWritten += count;
      if (!deflate.write(filtered)) await once(deflate, "drain");
    },
    async close() {
      check();
      if (rowsWritten !== height) throw new Error(`${rowsWritten} rows written of ${height}`);
      deflate.end();
      await idat;
      file.end(chunk("IEND", Buffer.alloc(0)));
      await once(file, "finish");
      check();
    },
    destroy() {
      deflate.destroy();
      file.destroy();
    },
  };
}

/** Frames the deflate stream's output into IDAT chunks of about IDAT_BYTES, written to the file as they fill. */
async function collectIdat(deflate: Deflate, file: WriteStream): Promise<void> {
  let pending: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    if (size === 0) return;
    const data = Buffer.concat(pending, size);
    pending = [];
    size = 0;
    if (!file.write(chunk("IDAT", data))) await once(file, "drain");
  };
  for await (const piece of deflate as AsyncIterable<Buffer>) {
    pending.push(piece);
    size += piece.length;
    if (size >= IDAT_BYTES) await flush();
  }
  await flush();
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** For an intermediate PNG that is re-encoded (JPEG, WebP): speed over size. */
export const PNG_FAST = constants.Z_BEST_SPEED;
