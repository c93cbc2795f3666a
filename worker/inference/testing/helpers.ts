import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import sharp from "sharp";
import { parse } from "yaml";
import type { ImageModel } from "../../../common/crd-types.js";
import type { Logger } from "../../../common/logger.js";
import type { RawImage } from "../tensors.js";

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

/** Decodes an encoded result without any conversion: its own channel count. */
export async function pixels(body: Buffer): Promise<RawImage> {
  const gray = (await sharp(body).metadata()).channels === 1;
  // sharp widens 1 channel to sRGB unless asked not to.
  const { data, info } = await (gray ? sharp(body).toColourspace("b-w") : sharp(body).removeAlpha()).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels as 1 | 3 };
}

export const MANIFESTS_DIR = fileURLToPath(new URL("../../../models/manifests/", import.meta.url));

export async function manifest(name: string): Promise<ImageModel> {
  return parse(await readFile(`${MANIFESTS_DIR}${name}.yaml`, "utf8")) as ImageModel;
}
