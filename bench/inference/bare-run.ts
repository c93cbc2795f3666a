import ort from "onnxruntime-node";
import type { ImageModelSpec } from "../../common/crd-types.js";
import { resolveParams } from "../../common/model-params.js";
import { builtinModel } from "../../models/builtin.js";
import type { ExecutionProvider } from "../../worker/inference/engine.js";
import { planRuns } from "../../worker/inference/pipelines/single-pass.js";
import { contractOf, toTensor, type RawImage } from "../../worker/inference/tensors.js";
import { crop } from "../../worker/inference/tiles.js";

export const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

export interface BareRunOptions {
  /** Images per run: each tile's tensor repeated `batch` times along the first dimension. */
  batch: number;
  /** Measured passes, after one warm-up. */
  runs: number;
  provider: ExecutionProvider;
}

/**
 * The floor under the engine: onnxruntime's own `session.run`, in this thread, of `batch` copies
 * of each run (tile) `image` needs, the tensors made beforehand. Median ms of one pass over the
 * tiles; undefined for a model that is not one built-in graph (ocr), which has no single run.
 */
export async function bareRunMs(spec: ImageModelSpec, image: RawImage, opts: BareRunOptions): Promise<number | undefined> {
  if (spec.components || !spec.source.uri.startsWith("builtin:")) return undefined;
  const bytes = await builtinModel(spec.source.uri.slice("builtin:".length));
  if (!bytes) return undefined;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [opts.provider] });
  try {
    const contract = contractOf(spec);
    const params = resolveParams(spec.params, {});
    const inputName = spec.input?.name || session.inputNames[0]!;
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) if (name !== inputName) feeds[name] = new ort.Tensor("float32", Float32Array.of(Number(params[name])), []);
    const tensors = planRuns(spec, image.width, image.height).map((tile) => {
      const one = toTensor(crop(image, tile), contract);
      const data = new Float32Array(one.data.length * opts.batch);
      for (let i = 0; i < opts.batch; i++) data.set(one.data, i * one.data.length);
      return { data, dims: [opts.batch, ...one.dims.slice(1)] };
    });
    const times: number[] = [];
    for (let r = 0; r <= opts.runs; r++) {
      const t0 = performance.now();
      for (const t of tensors) await session.run({ ...feeds, [inputName]: new ort.Tensor("float32", t.data, t.dims) });
      if (r > 0) times.push(performance.now() - t0); // the first pass warms up
    }
    return quantile(times, 0.5);
  } finally {
    await session.release();
  }
}

/**
 * `total` calls of `fn` from `clients` concurrent callers, each making its next call when its
 * last is done (a closed loop); the wall time of all of them.
 */
export async function closedLoop(clients: number, total: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) await fn(next++);
  }));
  return performance.now() - t0;
}
