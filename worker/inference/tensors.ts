import type { ImageModelSpec, ValueRange } from "../../common/crd-types.js";
import { JobFailure } from "../../common/errors.js";

/** 8-bit interleaved pixels: 3 channels (RGB) or 1 (gray or mask). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** The ImageModel's tensor contract with the CRD's defaults filled in. */
export interface Contract {
  layout: "NCHW" | "NHWC";
  colorOrder: "RGB" | "BGR" | "GRAY";
  /** Either range, or mean and std (one value per tensor channel, or one for all). */
  range?: ValueRange;
  mean?: number[];
  std?: number[];
  sizeMultiple: number;
  outputKind: "image" | "mask";
  outputScale: number;
  outputRange: ValueRange;
}

/** When neither is declared, inputs are 0..1, and outputs are read as 0..1. */
const UNIT: ValueRange = { min: 0, max: 1 };

export function contractOf(spec: ImageModelSpec): Contract {
  const input = spec.input ?? {};
  const normalise = input.mean && input.std ? { mean: input.mean, std: input.std } : { range: input.range ?? UNIT };
  return {
    layout: input.layout ?? "NCHW",
    colorOrder: input.colorOrder ?? "RGB",
    ...normalise,
    sizeMultiple: input.sizeMultiple ?? 1,
    outputKind: spec.output?.kind === "mask" ? "mask" : "image",
    outputScale: spec.output?.scale ?? 1,
    outputRange: spec.output?.range ?? UNIT,
  };
}

/** Extends the image to the next multiple on the bottom and right, repeating its edge pixels. */
export function padToMultiple(img: RawImage, multiple: number): RawImage {
  const width = Math.ceil(img.width / multiple) * multiple;
  const height = Math.ceil(img.height / multiple) * multiple;
  if (width === img.width && height === img.height) return img;
  const c = img.channels;
  const data = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const src = Math.min(y, img.height - 1) * img.width * c;
    const dst = y * width * c;
    data.set(img.data.subarray(src, src + img.width * c), dst);
    const last = img.data.subarray(src + (img.width - 1) * c, src + img.width * c);
    for (let x = img.width; x < width; x++) data.set(last, dst + x * c);
  }
  return { data, width, height, channels: c };
}

/** An RGB image as the model's input tensor: padded, reordered, normalised, laid out. */
export function toTensor(rgb: RawImage, contract: Contract): Tensor {
  if (rgb.channels !== 3) throw new Error("toTensor takes an RGB image");
  const img = padToMultiple(rgb, contract.sizeMultiple);
  const plane = img.width * img.height;
  const gray = contract.colorOrder === "GRAY";
  const channels = gray ? 1 : 3;
  const data = new Float32Array(plane * channels);
  const norm = normaliser(contract);
  if (gray) {
    for (let i = 0; i < plane; i++) data[i] = norm(0.299 * img.data[i * 3]! + 0.587 * img.data[i * 3 + 1]! + 0.114 * img.data[i * 3 + 2]!, 0);
  } else {
    const order = contract.colorOrder === "BGR" ? [2, 1, 0] : [0, 1, 2];
    const nchw = contract.layout === "NCHW";
    for (let c = 0; c < 3; c++) {
      // 256 possible bytes per channel: a table is faster than normalising each pixel.
      const table = Float32Array.from({ length: 256 }, (_, v) => norm(v, c));
      const src = order[c]!;
      for (let i = 0; i < plane; i++) data[nchw ? c * plane + i : i * 3 + c] = table[img.data[i * 3 + src]!]!;
    }
  }
  const dims = contract.layout === "NCHW" ? [1, channels, img.height, img.width] : [1, img.height, img.width, channels];
  return { data, dims };
}

/** Maps a 0..255 value of tensor channel c to the model's scale. */
function normaliser(contract: Contract): (v: number, c: number) => number {
  const { mean, std, range } = contract;
  if (mean && std) return (v, c) => (v / 255 - (mean[c] ?? mean[0]!)) / (std[c] ?? std[0]!);
  const { min, max } = range ?? UNIT;
  return (v) => (v / 255) * (max - min) + min;
}

/**
 * The model's output tensor as 8-bit pixels, cropped to `crop` (scale × the unpadded input).
 * Images keep 1 or 3 channels (BGR models give BGR back, which is turned into RGB); a mask is
 * the first channel. Values are mapped from the output range to 0..255, clamped and rounded.
 */
export function fromTensor(out: Tensor, contract: Contract, expect: { width: number; height: number }, crop: { width: number; height: number }): RawImage {
  const { channels, width, height, nchw } = geometry(out.dims, contract.layout);
  if (width !== expect.width || height !== expect.height) {
    throw new JobFailure("InferenceError", `the model's output is ${width}x${height}, the ImageModel's output.scale says ${expect.width}x${expect.height}`);
  }
  const taken = contract.outputKind === "mask" ? 1 : channels;
  if (taken !== 1 && taken !== 3) throw new JobFailure("InferenceError", `the model's output has ${channels} channels; an image needs 1 or 3`);
  const order = taken === 3 && contract.colorOrder === "BGR" ? [2, 1, 0] : [0, 1, 2];
  const data = new Uint8Array(crop.width * crop.height * taken);
  const scale = 255 / (contract.outputRange.max - contract.outputRange.min);
  const min = contract.outputRange.min;
  const plane = width * height;
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      const i = y * width + x;
      for (let c = 0; c < taken; c++) {
        const src = order[c]!;
        const v = out.data[nchw ? src * plane + i : i * channels + src]!;
        data[(y * crop.width + x) * taken + c] = toByte((v - min) * scale);
      }
    }
  }
  return { data, width: crop.width, height: crop.height, channels: taken };
}

function geometry(dims: readonly number[], layout: Contract["layout"]): { channels: number; width: number; height: number; nchw: boolean } {
  if (dims.length !== 4 || dims[0] !== 1) {
    throw new JobFailure("InferenceError", `the model's output has shape [${dims.join(", ")}]; expected one image with 4 dimensions (${layout})`);
  }
  const nchw = layout === "NCHW";
  const [, a, b, c] = dims as [number, number, number, number];
  return nchw ? { channels: a, height: b, width: c, nchw } : { height: a, width: b, channels: c, nchw };
}

/** Clamped and rounded half up; NaN (a broken model) becomes 0 rather than garbage. */
export function toByte(v: number): number {
  if (!(v > 0)) return 0;
  return v >= 255 ? 255 : Math.round(v);
}
