import { describe, expect, it } from "vitest";
import type { ImageModelSpec } from "../../common/crd-types.js";
import { JobFailure } from "../../common/errors.js";
import { contractOf, fromTensor, padToMultiple, toByte, toTensor, type Contract, type RawImage } from "./tensors.js";

// 2x1 image: red-ish and blue-ish pixel.
const img: RawImage = { data: Uint8Array.of(255, 0, 51, 0, 102, 255), width: 2, height: 1, channels: 3 };

function contract(input: ImageModelSpec["input"], output: ImageModelSpec["output"] = { kind: "image" }): Contract {
  return contractOf({ source: { uri: "builtin:x" }, task: "image-to-image", input, output });
}

describe("toTensor", () => {
  it("lays out NCHW planes scaled to the range", () => {
    const t = toTensor(img, contract({ range: { min: -1, max: 1 } }));
    expect(t.dims).toEqual([1, 3, 1, 2]);
    expect([...t.data]).toEqual([1, -1, -1, -0.2, -0.6, 1].map(Math.fround));
  });

  it("interleaves NHWC channels", () => {
    const t = toTensor(img, contract({ layout: "NHWC", range: { min: 0, max: 255 } }));
    expect(t.dims).toEqual([1, 1, 2, 3]);
    expect([...t.data]).toEqual([255, 0, 51, 0, 102, 255]);
  });

  it("reverses channels for BGR, and applies mean/std in the tensor's channel order", () => {
    const t = toTensor(img, contract({ layout: "NHWC", colorOrder: "BGR", mean: [0.2, 0.4, 0.5], std: [0.5, 0.25, 0.5] }));
    // pixel 0 is (r 255, g 0, b 51): b first.
    expect(t.data[0]).toBeCloseTo((51 / 255 - 0.2) / 0.5, 6);
    expect(t.data[1]).toBeCloseTo((0 - 0.4) / 0.25, 6);
    expect(t.data[2]).toBeCloseTo((1 - 0.5) / 0.5, 6);
  });

  it("broadcasts a single mean and std", () => {
    const t = toTensor(img, contract({ mean: [0.5], std: [0.5] }));
    expect(t.data[0]).toBeCloseTo(1, 6);
    expect(t.data[2]).toBeCloseTo(-1, 6);
  });

  it("makes one BT.601 luma channel for GRAY", () => {
    const t = toTensor(img, contract({ colorOrder: "GRAY", range: { min: 0, max: 255 } }));
    expect(t.dims).toEqual([1, 1, 1, 2]);
    expect(t.data[0]).toBeCloseTo(0.299 * 255 + 0.114 * 51, 3);
    expect(t.data[1]).toBeCloseTo(0.587 * 102 + 0.114 * 255, 3);
  });

  it("defaults to NCHW RGB 0..1", () => {
    const t = toTensor(img, contract({}));
    expect(t.dims).toEqual([1, 3, 1, 2]);
    expect(t.data[0]).toBe(1);
  });

  it("pads bottom and right to sizeMultiple by repeating edge pixels", () => {
    const t = toTensor(img, contract({ layout: "NHWC", range: { min: 0, max: 255 }, sizeMultiple: 4 }));
    expect(t.dims).toEqual([1, 4, 4, 3]);
    const px = (x: number, y: number): number[] => [...t.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)];
    expect(px(1, 0)).toEqual([0, 102, 255]);
    expect(px(3, 0)).toEqual([0, 102, 255]);
    expect(px(0, 3)).toEqual([255, 0, 51]);
    expect(px(3, 3)).toEqual([0, 102, 255]);
  });
});

describe("padToMultiple", () => {
  it("returns the image itself when it already fits", () => {
    expect(padToMultiple(img, 1)).toBe(img);
    const square: RawImage = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 };
    expect(padToMultiple(square, 2)).toBe(square);
  });

  it("repeats the last row and column", () => {
    const gray: RawImage = { data: Uint8Array.of(1, 2, 3, 4, 5, 6), width: 3, height: 2, channels: 1 };
    const out = padToMultiple(gray, 4);
    expect([out.width, out.height]).toEqual([4, 4]);
    expect([...out.data]).toEqual([1, 2, 3, 3, 4, 5, 6, 6, 4, 5, 6, 6, 4, 5, 6, 6]);
  });
});

describe("fromTensor", () => {
  it("crops the padded, scaled output back and maps the range to bytes", () => {
    // 1 channel 2x2 output (scale 2 of a padded 1x1), range -1..1, crop to 2x1.
    const out = { data: Float32Array.of(-1, 1, 0, 0.5), dims: [1, 1, 2, 2] };
    const c = contract({ range: { min: 0, max: 1 } }, { kind: "image", scale: 2, range: { min: -1, max: 1 } });
    const res = fromTensor(out, c, { width: 2, height: 2 }, { width: 2, height: 1 });
    expect(res).toEqual({ data: Uint8Array.of(0, 255), width: 2, height: 1, channels: 1 });
  });

  it("turns BGR NHWC output back into RGB", () => {
    const out = { data: Float32Array.of(0.2, 0.4, 1), dims: [1, 1, 1, 3] };
    const c = contract({ layout: "NHWC", colorOrder: "BGR" });
    expect([...fromTensor(out, c, { width: 1, height: 1 }, { width: 1, height: 1 }).data]).toEqual([255, 102, 51]);
  });

  it("reads NCHW planes", () => {
    const out = { data: Float32Array.of(0, 1, 0.5, 0.5, 1, 0), dims: [1, 3, 1, 2] };
    expect([...fromTensor(out, contract({}), { width: 2, height: 1 }, { width: 2, height: 1 }).data]).toEqual([0, 128, 255, 255, 128, 0]);
  });

  it("takes the first channel of a mask", () => {
    const out = { data: Float32Array.of(0.5, 1, 0, 0), dims: [1, 2, 1, 2] };
    const c = contract({}, { kind: "mask" });
    expect(fromTensor(out, c, { width: 2, height: 1 }, { width: 2, height: 1 })).toMatchObject({ data: Uint8Array.of(128, 255), channels: 1 });
  });

  it("refuses an output whose size does not match output.scale", () => {
    const out = { data: new Float32Array(3 * 4), dims: [1, 3, 2, 2] };
    expect(() => fromTensor(out, contract({}, { kind: "image", scale: 2 }), { width: 4, height: 4 }, { width: 4, height: 4 }))
      .toThrow(expect.objectContaining({ reason: "InferenceError" }) as JobFailure);
  });

  it("refuses shapes that are not one 4-D image", () => {
    const out = { data: new Float32Array(4), dims: [2, 2] };
    expect(() => fromTensor(out, contract({}), { width: 2, height: 2 }, { width: 2, height: 2 })).toThrow(/shape \[2, 2\]/);
  });
});

describe("toByte", () => {
  it("clamps, rounds half up, and maps NaN to 0", () => {
    expect([-3, 0.49, 0.5, 127.5, 254.6, 300, Number.NaN].map(toByte)).toEqual([0, 0, 1, 128, 255, 255, 0]);
  });
});
