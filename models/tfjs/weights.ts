import type { WeightGroup } from "./model-json.js";

const BYTES: Record<string, number> = { float32: 4 };

/**
 * The float32 weights of a TF.js model by name. Each manifest group's shards are one byte range
 * cut into weights in the group's order; callers look weights up by name, never by position.
 */
export function weightsByName(manifest: WeightGroup[], shards: Record<string, Uint8Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const group of manifest) {
    const bytes = concat(group.paths.map((path) => {
      const shard = shards[path];
      if (!shard) throw new Error(`weight shard ${path} is missing`);
      return shard;
    }));
    let offset = 0;
    for (const w of group.weights) {
      if (w.quantization !== undefined) throw new Error(`weight ${w.name} is quantized: only float32 weights are supported`);
      const size = BYTES[w.dtype];
      if (size === undefined) throw new Error(`weight ${w.name} is ${w.dtype}: only float32 weights are supported`);
      const length = w.shape.reduce((a, b) => a * b, 1);
      if (offset + length * size > bytes.byteLength) throw new Error(`weight ${w.name} runs past the end of its shards (${bytes.byteLength} bytes)`);
      // A copy: offsets need not be 4-byte aligned (and a Buffer's slice shares its pool). TF.js
      // writes little-endian floats, the byte order of every platform we run on.
      const copy = new Uint8Array(length * size);
      copy.set(bytes.subarray(offset, offset + length * size));
      out.set(w.name, new Float32Array(copy.buffer));
      offset += length * size;
    }
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return all;
}
