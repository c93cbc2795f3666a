import type { Readable } from "node:stream";
import { JobFailure } from "../../common/errors.js";

/**
 * Reads a body into memory, refusing it as soon as it passes `maxBytes`: a server that lies
 * about (or leaves out) Content-Length cannot make the worker buffer more than the limit.
 */
export async function readLimited(body: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      body.destroy();
      throw tooLarge(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

export function tooLarge(maxBytes: number): JobFailure {
  return new JobFailure("InputTooLarge", `the input is larger than the limit of ${maxBytes} bytes (FETCH_MAX_BYTES)`);
}
