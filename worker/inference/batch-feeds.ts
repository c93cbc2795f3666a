import ort from "onnxruntime-node";
import type { Feeds, Results } from "./model-session.js";

/** Feeds other than the batched one are compared by value; larger ones make a run go alone. */
const MAX_SHARED_VALUES = 1024;

/** Whether a graph input's first dimension is free (symbolic, or -1): only then can runs share one session.run. */
export function hasDynamicBatch(meta: ort.InferenceSession.ValueMetadata | undefined): boolean {
  if (!meta?.isTensor) return false;
  const first = meta.shape[0];
  return typeof first === "string" || (typeof first === "number" && first < 0);
}

/**
 * The key of the runs `feeds` may share a session.run with: the batched input's type and every
 * dimension but the first, and every other feed's type, dims and values (params must be equal,
 * since one tensor feeds them all). Undefined when the feeds cannot be batched.
 */
export function batchKey(feeds: Feeds, input: string): string | undefined {
  const batched = feeds[input];
  if (!batched || batched.dims.length === 0 || Array.isArray(batched.data)) return undefined;
  const parts = [`${input}:${batched.type}:${batched.dims.slice(1).join("x")}`];
  for (const name of Object.keys(feeds).sort()) {
    if (name === input) continue;
    const t = feeds[name]!;
    if (t.size > MAX_SHARED_VALUES) return undefined;
    parts.push(`${name}:${t.type}:${t.dims.join("x")}=${valuesOf(t)}`);
  }
  return JSON.stringify(parts);
}

function valuesOf(t: ort.Tensor): string {
  const data = t.data as ArrayLike<unknown>;
  return JSON.stringify(Array.from(data, (v) => (typeof v === "bigint" ? v.toString() : v)));
}

/**
 * One feed set for the whole batch: the members' `input` tensors end to end along the first
 * dimension in a fresh buffer (a member's own tensor is never moved to the session thread), the
 * other feeds from the first member (batchKey made them equal).
 */
export function concatFeeds(members: readonly Feeds[], input: string): Feeds {
  const first = members[0]!;
  const head = first[input]!;
  const parts = members.map((m) => m[input]!.data as ort.Tensor.DataTypeMap["float32"]);
  const length = parts.reduce((sum, p) => sum + p.length, 0);
  const Ctor = parts[0]!.constructor as new (n: number) => typeof parts[0];
  const data = new Ctor(length);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  const n = members.reduce((sum, m) => sum + m[input]!.dims[0]!, 0);
  const batched = new ort.Tensor(head.type, data as ort.Tensor.DataTypeMap[typeof head.type], [n, ...head.dims.slice(1)]);
  return { ...first, [input]: batched };
}

/**
 * The batch's outputs cut back into each member's, `counts[i]` items of the first dimension
 * each (views of the batch's buffers, not copies). Undefined when an output is not batched
 * (its first dimension is not the batch's size): such a graph cannot be split per member.
 */
export function splitResults(results: Results, counts: readonly number[]): Results[] | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  const out: Array<Record<string, ort.Tensor>> = counts.map(() => ({}));
  for (const [name, value] of Object.entries(results)) {
    if (!(value instanceof ort.Tensor) || value.dims[0] !== total || value.location !== "cpu") return undefined;
    const per = value.size / total;
    let start = 0;
    counts.forEach((n, i) => {
      const data = value.data as ArrayLike<unknown> & { subarray?: (a: number, b: number) => unknown; slice: (a: number, b: number) => unknown };
      const part = data.subarray ? data.subarray(start * per, (start + n) * per) : data.slice(start * per, (start + n) * per);
      out[i]![name] = new ort.Tensor(value.type, part as ort.Tensor.DataTypeMap[typeof value.type], [n, ...value.dims.slice(1)]);
      start += n;
    });
  }
  return out;
}
