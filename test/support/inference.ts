import { readFile } from "node:fs/promises";
import { crc32, deflateSync } from "node:zlib";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import sharp from "sharp";
import type { SpooledOutput } from "../../worker/runner.js";
import { parse } from "yaml";
import type { ImageModel } from "../../common/crd-types.js";
import type { Logger } from "../../common/logger.js";
import type { RawImage } from "../../worker/inference/tensors.js";

/** A logger that keeps its JSON lines, so tests can assert on what was logged. */
export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

/** Deterministic pseudo-random pixels (mulberry32), so a failing case can be replayed. */
export function randomImage(width: number, height: number, seed: number, channels: 1 | 3 = 3): RawImage {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const data = Uint8Array.from({ length: width * height * channels }, () => Math.floor(next() * 256));
  return { data, width, height, channels };
}

export function png(img: RawImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).png().toBuffer();
}

/** Decodes an encoded result (bytes, or a spooled output's file) without any conversion: its own channel count. */
export async function pixels(result: Buffer | SpooledOutput): Promise<RawImage> {
  const body = Buffer.isBuffer(result) ? result : result.path;
  const gray = (await sharp(body).metadata()).channels === 1;
  // sharp widens 1 channel to sRGB unless asked not to.
  const { data, info } = await (gray ? sharp(body).toColourspace("b-w") : sharp(body).removeAlpha()).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels as 1 | 3 };
}

export const MANIFESTS_DIR = fileURLToPath(new URL("../../models/manifests/", import.meta.url));

export async function manifest(name: string): Promise<ImageModel> {
  return parse(await readFile(`${MANIFESTS_DIR}${name}.yaml`, "utf8")) as ImageModel;
}

/** A valid PNG header declaring width × height RGB, with a token IDAT: a decompression bomb's shape, tiny on the wire. */
export function declaredPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.alloc(64))), chunk("IEND", Buffer.alloc(0))]);
}
