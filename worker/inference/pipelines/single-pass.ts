import ort from "onnxruntime-node";
import type { ImageModelSpec } from "../../../common/crd-types.js";
import { JobFailure } from "../../../common/errors.js";
import type { ModelSession, RunOptions } from "../model-session.js";
import { batchPolicy } from "../batcher.js";
import type { ParamValue } from "../../../common/model-params.js";
import { contractOf, fromTensor, toTensor, type Contract, type RawImage } from "../tensors.js";
import { crop, planTiles, stitch, type Tile } from "../tiles.js";
import type { RowWriter } from "../png-stream.js";
import { timed, timedSync, type PartTimer } from "../../stage-timings.js";
import { inputImage, MAIN_SESSION, throwIfAborted, type Pipeline, type PipelineRequest } from "./pipeline.js";

/**
 * One graph, one run per image (or per tile): the tensors are shaped by the spec's input and
 * output contract, and every other graph input is fed from a param of the same name.
 */
export const singlePass: Pipeline = {
  name: "single-pass",
  tasks: ["image-to-image", "image-to-mask"],
  sources: (spec) => ({ [MAIN_SESSION]: spec.source }),
  check: (spec, input) => {
    const image = inputImage(input, spec);
    planRuns(spec, image.width, image.height);
  },
  async run({ spec, sessions, image: input, params, signal, rows, timer }) {
    const image = inputImage(input, spec);
    const tiles = planRuns(spec, image.width, image.height);
    const req = { session: sessions[MAIN_SESSION]!, spec, image, tiles, params, signal, timer };
    const stats = { tiles: tiles.length };
    if (rows) return { written: await inferInBands(req, rows), stats };
    return { image: await infer(req), stats };
  },
};

/**
 * The runs one image needs: one, or tiles when it is over the model's `maxPixels` and the spec
 * declares `tile`. Without `maxPixels`, a declared tile size is the limit. Checked before the
 * model is loaded, so an oversized image costs nothing.
 */
export function planRuns(spec: ImageModelSpec, width: number, height: number): Tile[] {
  const tile = spec.input?.tile;
  const limit = spec.input?.maxPixels ?? (tile ? tile.size * tile.size : Infinity);
  if (width * height <= limit) return [{ x: 0, y: 0, width, height, keep: { x0: 0, y0: 0, x1: width, y1: height } }];
  if (!tile) {
    throw new JobFailure("InputTooLarge", `the image is ${width}x${height} (${width * height} pixels); this model takes at most ${limit} pixels and does not tile`);
  }
  return planTiles(width, height, tile.size, tile.overlap ?? 0);
}

export interface InferRequest {
  session: ModelSession;
  spec: ImageModelSpec;
  image: RawImage;
  tiles: Tile[];
  params: Record<string, ParamValue>;
  signal?: AbortSignal;
  /** Told pre (crop, tensor), run and post (pixels, stitching, bands written) of each tile. */
  timer?: PartTimer;
}

/** Runs the model on each tile and puts the kept parts together; aborts between tiles. */
export async function infer(req: InferRequest): Promise<RawImage> {
  const { scale, run } = tileRunner(req);
  const { image, tiles } = req;
  if (tiles.length === 1) return run(tiles[0]!);
  let target: RawImage | undefined;
  for (const tile of tiles) {
    throwIfAborted(req.signal);
    const out = await run(tile);
    timedSync(req.timer, "post", () => {
      target ??= { data: new Uint8Array(image.width * image.height * scale * scale * out.channels), width: image.width * scale, height: image.height * scale, channels: out.channels };
      stitch(target, out, tile, scale);
    });
  }
  return target!;
}

/**
 * As infer, but each row of tiles is stitched into a band and written out before the next row
 * runs: memory holds the input, one band and one tile, not the whole output.
 */
export async function inferInBands(req: InferRequest, open: NonNullable<PipelineRequest["rows"]>): Promise<{ width: number; height: number }> {
  const { scale, run } = tileRunner(req);
  const { image, tiles } = req;
  const size = { width: image.width * scale, height: image.height * scale };
  let writer: RowWriter | undefined;
  try {
    for (const row of tileRows(tiles)) {
      const y0 = row[0]!.keep.y0, y1 = row[0]!.keep.y1;
      let band: RawImage | undefined;
      for (const tile of row) {
        throwIfAborted(req.signal);
        const out = await run(tile);
        timedSync(req.timer, "post", () => {
          band ??= { data: new Uint8Array(size.width * (y1 - y0) * scale * out.channels), width: size.width, height: (y1 - y0) * scale, channels: out.channels };
          // The band is the part of the output from y0: the tile shifted up by as much.
          stitch(band, out, { ...tile, y: tile.y - y0, keep: { ...tile.keep, y0: 0, y1: y1 - y0 } }, scale);
        });
      }
      // Written (compressed into the spool) as it is made: this output's encoding is part of post.
      await timed(req.timer, "post", async () => {
        writer ??= open(size.width, size.height, band!.channels);
        await writer.write(band!.data);
      });
    }
    await timed(req.timer, "post", () => writer!.close());
    return size;
  } catch (err) {
    writer?.destroy();
    throw err;
  }
}

/** One run of the session on one tile (the whole image when the tile is), shaped by the spec's contract. */
function tileRunner(req: InferRequest): { scale: number; run: (tile: Tile) => Promise<RawImage> } {
  const contract = contractOf(req.spec);
  const names = tensorNames(req.session, req.spec);
  const feeds = paramFeeds(req.session, names.input, req.params);
  const opts = runOptions(req, names);
  return { scale: contract.outputScale, run: (tile) => runOnce(req.session, () => crop(req.image, tile), contract, names, feeds, opts, req.timer) };
}

/** planTiles' tiles, row by row (they come in row-major order; a row shares its kept y range). */
function tileRows(tiles: readonly Tile[]): Tile[][] {
  const rows: Tile[][] = [];
  for (const tile of tiles) {
    const last = rows.at(-1);
    if (last && last[0]!.keep.y0 === tile.keep.y0) last.push(tile);
    else rows.push([tile]);
  }
  return rows;
}

interface Names {
  input: string;
  output: string;
}

function tensorNames(session: ModelSession, spec: ImageModelSpec): Names {
  const inputs = session.inputs.map((i) => i.name);
  const input = spec.input?.name || inputs[0];
  const output = spec.output?.name || session.outputNames[0];
  if (!input || !inputs.includes(input)) throw contractError(`has no input ${JSON.stringify(input)}; its inputs are ${inputs.join(", ")}`);
  if (!output || !session.outputNames.includes(output)) throw contractError(`has no output ${JSON.stringify(output)}; its outputs are ${session.outputNames.join(", ")}`);
  return { input, output };
}

/**
 * Every graph input besides the image is a param of the same name, fed as a tensor of the
 * input's type: a scalar, or all-ones dims ([1], [1, 1]) when the graph declares a rank.
 */
function paramFeeds(session: ModelSession, imageInput: string, params: Record<string, ParamValue>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputs) {
    if (meta.name === imageInput) continue;
    const value = params[meta.name];
    if (value === undefined) throw new JobFailure("InvalidParams", `param ${meta.name} is required by this model and has no default`);
    if (!meta.isTensor) throw contractError(`input ${meta.name} is not a tensor`);
    feeds[meta.name] = scalarTensor(meta.type, value, meta.shape.map(() => 1), meta.name);
  }
  return feeds;
}

function scalarTensor(type: ort.Tensor.Type, value: ParamValue, dims: number[], name: string): ort.Tensor {
  switch (type) {
    case "float32": return new ort.Tensor("float32", Float32Array.of(Number(value)), dims);
    case "float64": return new ort.Tensor("float64", Float64Array.of(Number(value)), dims);
    case "int32": return new ort.Tensor("int32", Int32Array.of(Number(value)), dims);
    case "int64": return new ort.Tensor("int64", BigInt64Array.of(BigInt(Math.trunc(Number(value)))), dims);
    case "bool": return new ort.Tensor("bool", Uint8Array.of(value ? 1 : 0), dims);
    case "string": return new ort.Tensor("string", [String(value)], dims);
    default: throw contractError(`param input ${name} has type ${type}, which params cannot feed`);
  }
}

/** Each run may be batched with other jobs' runs of the same shape and params (spec.batching). */
function runOptions(req: InferRequest, names: Names): RunOptions {
  return { batch: { input: names.input, ...batchPolicy(req.spec) }, ...(req.signal ? { signal: req.signal } : {}) };
}

async function runOnce(
  session: ModelSession, cut: () => RawImage, contract: Contract, names: Names, params: Record<string, ort.Tensor>, opts: RunOptions, timer: PartTimer | undefined,
): Promise<RawImage> {
  const { image, tensor } = timedSync(timer, "pre", () => {
    const image = cut();
    return { image, tensor: toTensor(image, contract) };
  });
  const results = await timed(timer, "run", () => session.run({ ...params, [names.input]: new ort.Tensor("float32", tensor.data, tensor.dims) }, opts));
  const out = results[names.output];
  if (!(out instanceof ort.Tensor) || out.type !== "float32") throw contractError(`output ${names.output} is not a float32 tensor`);
  const [paddedW, paddedH] = contract.layout === "NCHW" ? [tensor.dims[3]!, tensor.dims[2]!] : [tensor.dims[2]!, tensor.dims[1]!];
  const scale = contract.outputScale;
  return timedSync(timer, "post", () => fromTensor({ data: out.data as Float32Array, dims: [...out.dims] }, contract,
    { width: paddedW * scale, height: paddedH * scale }, { width: image.width * scale, height: image.height * scale }));
}

/** The ImageModel's contract does not fit its graph: an operator's mistake, reported to the job. */
function contractError(why: string): JobFailure {
  return new JobFailure("InferenceError", `the model ${why} (check the ImageModel's input and output)`);
}
