import ort from "onnxruntime-node";

/**
 * How tensors cross between the worker's JS thread and a session thread (threaded-session.ts,
 * session-thread.ts): plain `{ type, dims, data }`, the data's ArrayBuffer moved in the
 * postMessage transfer list rather than cloned.
 */
export interface WireTensor {
  type: ort.Tensor.Type;
  dims: readonly number[];
  data: ort.Tensor.DataType;
}

export type WireTensors = Record<string, WireTensor>;

/** A thrown error as data: structured clone would keep only some of its fields. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

/** Main thread → session thread. */
export type ThreadRequest = { kind: "run"; id: number; feeds: WireTensors } | { kind: "release" };

/** Session thread → main thread. */
export type ThreadReply =
  | { kind: "ready"; inputMetadata: ort.InferenceSession.ValueMetadata[]; outputNames: string[] }
  | { kind: "failed"; error: WireError }
  | { kind: "result"; id: number; outputs: WireTensors }
  | { kind: "error"; id: number; error: WireError }
  | { kind: "released" };

/** What the thread needs to create its session (Worker `workerData`). */
export interface ThreadInit {
  path: string;
  sessionOptions: ort.InferenceSession.SessionOptions;
}

/**
 * Below this a buffer is copied instead of moved. Moving detaches the sender's array, so it is
 * kept for buffers big enough to matter (an image tensor, built for one run); small ones, such
 * as the param scalars pipeline.ts reuses across tiles, stay usable by the caller.
 */
export const MOVE_MIN_BYTES = 64 * 1024;

/**
 * The tensors as wire data, and the ArrayBuffers to transfer. A buffer is moved as it is when
 * the array spans all of it and is at least `moveMinBytes` long; otherwise the array's own bytes
 * are copied into a fresh buffer (a view into a larger or pooled buffer would otherwise clone, or
 * detach, all of it). A session's outputs belong to nobody else: the thread sends them with 0.
 */
export function toWire(tensors: Record<string, ort.Tensor>, moveMinBytes = MOVE_MIN_BYTES): { wire: WireTensors; transfer: ArrayBuffer[] } {
  const wire: WireTensors = {};
  const transfer = new Set<ArrayBuffer>();
  for (const [name, tensor] of Object.entries(tensors)) {
    const data = tensor.data;
    if (Array.isArray(data)) {
      wire[name] = { type: tensor.type, dims: [...tensor.dims], data };
      continue;
    }
    const buffer = data.buffer;
    const whole = buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength;
    const sent = whole && data.byteLength >= moveMinBytes && !transfer.has(buffer) ? data : data.slice();
    transfer.add(sent.buffer as ArrayBuffer);
    wire[name] = { type: tensor.type, dims: [...tensor.dims], data: sent };
  }
  return { wire, transfer: [...transfer] };
}

export function fromWire(wire: WireTensors): Record<string, ort.Tensor> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(wire)) tensors[name] = new ort.Tensor(t.type, t.data, t.dims);
  return tensors;
}

export function errorToWire(err: unknown): WireError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: "Error", message: String(err) };
}

/** The thread's error, rebuilt with its name and message, so callers see what onnxruntime said. */
export function errorFromWire(wire: WireError): Error {
  const err = new Error(wire.message);
  err.name = wire.name;
  if (wire.stack) err.stack = wire.stack;
  return err;
}
