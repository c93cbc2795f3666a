import ort from "onnxruntime-node";
import type { ImageModelSpec } from "../../../common/crd-types.js";
import { JobFailure } from "../../../common/errors.js";
import type { ParamValue } from "../../../common/model-params.js";
import type { ModelSession } from "../model-session.js";
import type { ModelSource } from "../model-files.js";
import { readingOrder, textBoxes, type TextBox } from "../ocr/boxes.js";
import { cropQuad, resize, rotate180 } from "../ocr/crop.js";
import { resizeImage } from "../image-io.js";
import { charsetClasses, ctcGreedy, type Decoded } from "../ocr/ctc.js";
import type { Quad, ScoreMap } from "../ocr/geometry.js";
import { contractOf, toTensor, type RawImage } from "../tensors.js";
import { componentSource } from "../../../common/model-export.js";
import { inputImage, throwIfAborted, type Pipeline, type PipelineRequest } from "./pipeline.js";
import { timed, timedSync, type PartTimer } from "../../stage-timings.js";

/** The spec.components an OCR ImageModel names besides its detector (spec.source). */
const COMPONENTS = ["classifier", "recognizer", "charset"] as const;

/** Text regions looked at per job at most (PaddleOCR's max_candidates); the rest are left out, and the job's notes say so. */
export const MAX_LINES = 1000;

/**
 * What a param falls back to when the ImageModel does not declare it: PaddleOCR's defaults, but
 * unclipRatio 2.5 rather than 1.5, whose tight crops make the recogniser drop most spaces.
 */
const DEFAULTS = { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 2.5, maxSide: 960, minConfidence: 0.5 };

/** PaddleOCR's line inputs: 48 pixels high; the classifier at most 192 wide, the recogniser at least 320 (a batch, its widest line). */
const LINE_HEIGHT = 48;
const CLASSIFIER_WIDTH = 192;
const RECOGNIZER_MIN_WIDTH = 320;
/** Lines per classifier or recogniser run (PaddleOCR's cls_batch_num and rec_batch_num). */
const BATCH = 6;
/** The classifier's second class is "turned 180°"; it is believed above this probability. */
const UPSIDE_DOWN = 0.9;

/** One line of the output document. */
export interface OcrLine {
  text: string;
  /** The recogniser's mean probability over the line's characters, 0..1. */
  confidence: number;
  /** Corners in input pixels: top-left, top-right, bottom-right, bottom-left. */
  box: Quad;
}

/**
 * PaddleOCR's three stages (task image-to-text): the detector (spec.source) finds text lines,
 * each line is cut out upright, the classifier turns upside-down ones over, and the recogniser
 * reads them (CTC over spec.components.charset). The output is a JSON document of the lines in
 * reading order, their text, confidence and box in input pixels.
 */
export const ocr: Pipeline = {
  name: "ocr",
  tasks: ["image-to-text"],
  sources(spec) {
    const c = components(spec);
    return { detector: spec.source, classifier: c.classifier, recognizer: c.recognizer };
  },
  files: (spec) => ({ charset: components(spec).charset }),
  check(spec, input) {
    components(spec);
    const image = inputImage(input, spec);
    const limit = spec.input?.maxPixels ?? Infinity;
    if (image.width * image.height > limit) {
      throw new JobFailure("InputTooLarge", `the image is ${image.width}x${image.height} (${image.width * image.height} pixels); this model takes at most ${limit} pixels`);
    }
  },
  async run(req) {
    const { spec, sessions, signal, timer } = req;
    const image = inputImage(req.image, spec);
    const opts = options(req.params);
    const classes = charsetClasses(req.files.charset!);
    const detected = await detect(sessions.detector!, spec, image, opts, timer);
    const notes = detected.truncated ? [`the detector found more than ${MAX_LINES} text regions; only the first ${MAX_LINES} from the top were read`] : [];
    const boxes = timedSync(timer, "post", () => readingOrder(detected.boxes));
    throwIfAborted(signal);
    const crops = timedSync(timer, "pre", () => boxes.map((b) => cropQuad(image, b.quad)));
    const upright = await orient(sessions.classifier!, crops, signal, timer);
    const read = await recognise(sessions.recognizer!, upright, classes, signal, timer);
    const lines: OcrLine[] = [];
    boxes.forEach((b, i) => {
      // A margin can read as a space at either end.
      const text = read[i]!.text.trim();
      const confidence = read[i]!.confidence;
      if (text && confidence >= opts.minConfidence) lines.push({ text, confidence: Math.round(confidence * 1e4) / 1e4, box: b.quad });
    });
    return {
      document: { width: image.width, height: image.height, lines },
      stats: { regions: detected.boxes.length, lines: lines.length, upsideDown: upright.filter((crop, i) => crop !== crops[i]).length },
      ...(notes.length ? { notes } : {}),
    };
  },
};

/** The named components, or ModelUnavailable: the ImageModel cannot be run as OCR without them. */
function components(spec: ImageModelSpec): Record<(typeof COMPONENTS)[number], ModelSource> {
  const [classifier, recognizer, charset] = COMPONENTS.map((name) => componentSource(spec, name));
  if (!classifier || !recognizer || !charset) {
    const missing = COMPONENTS.filter((name) => !componentSource(spec, name));
    throw new JobFailure("ModelUnavailable", `an image-to-text (OCR) model needs spec.components ${COMPONENTS.join(", ")} besides its detector (spec.source); this one lacks ${missing.join(", ")}`);
  }
  return { classifier, recognizer, charset };
}

type Options = typeof DEFAULTS;

function options(params: PipelineRequest["params"]): Options {
  const num = (name: keyof Options): number => {
    const v: ParamValue | undefined = params[name];
    return typeof v === "number" ? v : DEFAULTS[name];
  };
  return { threshold: num("threshold"), boxThreshold: num("boxThreshold"), unclipRatio: num("unclipRatio"), maxSide: num("maxSide"), minConfidence: num("minConfidence") };
}

/**
 * The detector's lines in input pixels. The image is resized (not padded) so its longer side is
 * at most maxSide and both sides are multiples of the spec's sizeMultiple, as PaddleOCR does;
 * sharp's resize filters, so small text shrinks without aliasing.
 */
async function detect(session: ModelSession, spec: ImageModelSpec, image: RawImage, opts: Options, timer: PartTimer | undefined): Promise<{ boxes: TextBox[]; truncated: boolean }> {
  const contract = contractOf(spec);
  const multiple = contract.sizeMultiple;
  const ratio = Math.min(1, opts.maxSide / Math.max(image.width, image.height));
  const side = (v: number): number => Math.max(multiple, Math.round((v * ratio) / multiple) * multiple);
  const [width, height] = [side(image.width), side(image.height)];
  const tensor = await timed(timer, "pre", async () => toTensor(await resizeImage(image, width, height), contract));
  const input = spec.input?.name || session.inputs[0]?.name;
  const output = session.outputNames[0];
  if (!input || !session.inputs.some((i) => i.name === input) || !output) throw contractError("detector", `has no input ${JSON.stringify(input)}`);
  const results = await timed(timer, "run", () => session.run({ [input]: new ort.Tensor("float32", tensor.data, tensor.dims) }));
  const out = results[output];
  if (!(out instanceof ort.Tensor) || out.type !== "float32" || out.dims.length !== 4 || out.dims[2] !== height || out.dims[3] !== width) {
    throw contractError("detector", `output ${output} is not a float32 map of ${width}x${height} (got [${out instanceof ort.Tensor ? out.dims.join(", ") : "not a tensor"}])`);
  }
  // The first channel of the first image: the text probability map.
  const map: ScoreMap = { data: (out.data as Float32Array).subarray(0, width * height), width, height };
  return timedSync(timer, "post", () => textBoxes(map, image.width, image.height, { ...opts, limit: MAX_LINES }));
}

/** The crops with the ones the classifier is sure are upside-down turned over (the others are the same objects). */
async function orient(session: ModelSession, crops: RawImage[], signal: AbortSignal | undefined, timer: PartTimer | undefined): Promise<RawImage[]> {
  const out = [...crops];
  for (let start = 0; start < crops.length; start += BATCH) {
    throwIfAborted(signal);
    const batch = crops.slice(start, start + BATCH);
    const probs = await runLines(session, "classifier", batch, CLASSIFIER_WIDTH, CLASSIFIER_WIDTH, [batch.length, 2], timer);
    timedSync(timer, "post", () => batch.forEach((crop, i) => {
      if (probs[i * 2 + 1]! > UPSIDE_DOWN) out[start + i] = rotate180(crop);
    }));
  }
  return out;
}

/**
 * Each crop's text. Lines are batched by width (PaddleOCR sorts them by aspect ratio), so short
 * lines are not padded out to the longest line of the image.
 */
async function recognise(session: ModelSession, crops: RawImage[], classes: readonly string[], signal: AbortSignal | undefined, timer: PartTimer | undefined): Promise<Decoded[]> {
  const order = crops.map((_, i) => i).sort((a, b) => ratioOf(crops[a]!) - ratioOf(crops[b]!));
  const out = new Array<Decoded>(crops.length);
  for (let start = 0; start < order.length; start += BATCH) {
    throwIfAborted(signal);
    const indices = order.slice(start, start + BATCH);
    const batch = indices.map((i) => crops[i]!);
    const width = Math.max(RECOGNIZER_MIN_WIDTH, ...batch.map((c) => Math.ceil(LINE_HEIGHT * ratioOf(c))));
    const results = await runLinesRaw(session, "recognizer", batch, width, Infinity, timer);
    const [n, steps, count] = results.dims as [number, number, number];
    if (results.dims.length !== 3 || n !== batch.length) throw contractError("recognizer", `output has shape [${results.dims.join(", ")}], not [${batch.length}, steps, classes]`);
    if (count !== classes.length) {
      throw contractError("recognizer", `has ${count} classes, but the charset makes ${classes.length} (blank, ${classes.length - 2} characters, space)`);
    }
    const probs = results.data as Float32Array;
    timedSync(timer, "post", () => indices.forEach((crop, i) => {
      out[crop] = ctcGreedy(probs, i * steps * count, steps, classes);
    }));
  }
  return out;
}

const ratioOf = (img: RawImage): number => img.width / img.height;

async function runLines(session: ModelSession, stage: string, lines: RawImage[], width: number, maxWidth: number, dims: number[], timer: PartTimer | undefined): Promise<Float32Array> {
  const out = await runLinesRaw(session, stage, lines, width, maxWidth, timer);
  if (out.dims.join() !== dims.join()) throw contractError(stage, `output has shape [${out.dims.join(", ")}], not [${dims.join(", ")}]`);
  return out.data as Float32Array;
}

/**
 * Runs the stage on the lines as one batch [n, 3, 48, width]: each line resized to 48 pixels
 * high (at most maxWidth wide), BGR, scaled to -1..1, and right-padded with 0.
 */
async function runLinesRaw(session: ModelSession, stage: string, lines: RawImage[], width: number, maxWidth: number, timer: PartTimer | undefined): Promise<ort.Tensor> {
  const data = timedSync(timer, "pre", () => lineTensor(lines, width, maxWidth));
  const input = session.inputs[0]?.name;
  const output = session.outputNames[0];
  if (!input || !output) throw contractError(stage, "has no input or no output");
  const results = await timed(timer, "run", () => session.run({ [input]: new ort.Tensor("float32", data, [lines.length, 3, LINE_HEIGHT, width]) }));
  const out = results[output];
  if (!(out instanceof ort.Tensor) || out.type !== "float32") throw contractError(stage, `output ${output} is not a float32 tensor`);
  return out;
}

/** The lines as one [n, 3, 48, width] tensor's data (see runLinesRaw). */
function lineTensor(lines: RawImage[], width: number, maxWidth: number): Float32Array {
  const plane = LINE_HEIGHT * width;
  const data = new Float32Array(lines.length * 3 * plane);
  lines.forEach((line, n) => {
    const w = Math.min(maxWidth, width, Math.ceil(LINE_HEIGHT * ratioOf(line)));
    const scaled = resize(line, w, LINE_HEIGHT);
    for (let c = 0; c < 3; c++) {
      const src = 2 - c;
      const base = (n * 3 + c) * plane;
      for (let y = 0; y < LINE_HEIGHT; y++) {
        for (let x = 0; x < w; x++) data[base + y * width + x] = scaled.data[(y * w + x) * 3 + src]! / 127.5 - 1;
      }
    }
  });
  return data;
}

/** A component does not fit what PaddleOCR's pipeline expects of it: the ImageModel's files are wrong. */
function contractError(stage: string, why: string): JobFailure {
  return new JobFailure("InferenceError", `the OCR ${stage} ${why} (check the ImageModel's source and components)`);
}
