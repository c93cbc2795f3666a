import { describe, expect, it } from "vitest";
import ort from "onnxruntime-node";
import { batchKey, concatFeeds, hasDynamicBatch, splitResults } from "./batch-feeds.js";

const image = (n: number, h: number, w: number, start = 0) =>
  new ort.Tensor("float32", Float32Array.from({ length: n * 3 * h * w }, (_, i) => start + i), [n, 3, h, w]);
const scalar = (v: number) => new ort.Tensor("float32", Float32Array.of(v), []);

describe("batchKey", () => {
  it("is equal for the same shape and params, whatever the pixels", () => {
    expect(batchKey({ image: image(1, 4, 5), gain: scalar(1) }, "image")).toBe(batchKey({ gain: scalar(1), image: image(1, 4, 5, 99) }, "image"));
  });

  it("differs when the size, a param's value or a param's type differs", () => {
    const base = batchKey({ image: image(1, 4, 5), gain: scalar(1) }, "image");
    expect(batchKey({ image: image(1, 5, 4), gain: scalar(1) }, "image")).not.toBe(base);
    expect(batchKey({ image: image(1, 4, 5), gain: scalar(0.5) }, "image")).not.toBe(base);
    expect(batchKey({ image: image(1, 4, 5), gain: new ort.Tensor("float64", Float64Array.of(1), []) }, "image")).not.toBe(base);
    expect(batchKey({ image: image(1, 4, 5), gain: new ort.Tensor("int64", BigInt64Array.of(1n), []) }, "image")).not.toBe(base);
  });

  it("leaves out feeds it cannot batch: no such input, a scalar image, a large shared feed", () => {
    expect(batchKey({ other: image(1, 2, 2) }, "image")).toBeUndefined();
    expect(batchKey({ image: scalar(1) }, "image")).toBeUndefined();
    expect(batchKey({ image: image(1, 2, 2), mask: image(1, 20, 20) }, "image")).toBeUndefined();
  });
});

describe("hasDynamicBatch", () => {
  const meta = (shape: Array<number | string>): ort.InferenceSession.ValueMetadata => ({ name: "image", isTensor: true, type: "float32", shape });
  it("is true only for a symbolic or -1 first dimension", () => {
    expect(hasDynamicBatch(meta(["N", 3, "H", "W"]))).toBe(true);
    expect(hasDynamicBatch(meta([-1, 3, 8, 8]))).toBe(true);
    expect(hasDynamicBatch(meta([1, 3, "H", "W"]))).toBe(false);
    expect(hasDynamicBatch(meta([]))).toBe(false);
    expect(hasDynamicBatch(undefined)).toBe(false);
  });
});

describe("concatFeeds and splitResults", () => {
  it("stacks the images along N in a fresh buffer, keeps the shared feeds, and splits outputs back", () => {
    const a = { image: image(1, 2, 3, 0), gain: scalar(2) };
    const b = { image: image(2, 2, 3, 1000), gain: scalar(2) };
    const feeds = concatFeeds([a, b], "image");
    expect(feeds.image!.dims).toEqual([3, 3, 2, 3]);
    expect(feeds.gain).toBe(a.gain);
    const data = feeds.image!.data as Float32Array;
    expect(data.buffer).not.toBe((a.image.data).buffer);
    expect([...data.subarray(0, 18)]).toEqual([...(a.image.data)]);
    expect([...data.subarray(18)]).toEqual([...(b.image.data)]);
    // A model output of another shape per image (2 channels, 4x6), one per batch item.
    const out = new ort.Tensor("float32", Float32Array.from({ length: 3 * 2 * 4 * 6 }, (_, i) => i), [3, 2, 4, 6]);
    const parts = splitResults({ out }, [1, 2])!;
    expect(parts.map((p) => p.out!.dims)).toEqual([[1, 2, 4, 6], [2, 2, 4, 6]]);
    expect((parts[0]!.out!.data as Float32Array)[0]).toBe(0);
    expect((parts[1]!.out!.data as Float32Array)[0]).toBe(48);
    expect((parts[1]!.out!.data as Float32Array)).toHaveLength(96);
  });

  it("refuses to split an output whose first dimension is not the batch's", () => {
    const out = new ort.Tensor("float32", new Float32Array(4), [1, 4]);
    expect(splitResults({ out }, [1, 1])).toBeUndefined();
  });
});
