import { describe, expect, it } from "vitest";
import ort from "onnxruntime-node";
import { convertTfjsLayers, type TfjsModel } from "./convert.js";

/** A batch-1 NHWC tensor: the layout TF.js computes in, and the references below too. */
interface T { h: number; w: number; c: number; d: Float32Array }

const at = (t: T, y: number, x: number, c: number): number => t.d[(y * t.w + x) * t.c + c]!;
const make = (h: number, w: number, c: number, f: (y: number, x: number, ch: number) => number): T => {
  const d = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) d[(y * w + x) * c + ch] = f(y, x, ch);
  return { h, w, c, d };
};

/** Deterministic values in [-1, 1) (an LCG), so a failure can be replayed. */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
}
const random = (h: number, w: number, c: number, seed: number): T => ({ h, w, c, d: noise(h * w * c, seed) });

// --- Naive references, written from TensorFlow's definitions, not from the converter. ---

/** tf.nn.conv2d, NHWC input, HWIO kernel; "same" pads max((out-1)·s + k - in, 0), the odd one after. */
function conv2d(x: T, k: Float32Array, kh: number, kw: number, cout: number, bias: Float32Array | undefined, [sy, sx]: number[], padding: "same" | "valid"): T {
  const dim = (n: number, kk: number, s: number) => (padding === "same" ? Math.ceil(n / s) : Math.floor((n - kk) / s) + 1);
  const [oh, ow] = [dim(x.h, kh, sy!), dim(x.w, kw, sx!)];
  const before = (n: number, o: number, kk: number, s: number) => (padding === "same" ? Math.floor(Math.max((o - 1) * s + kk - n, 0) / 2) : 0);
  const [pt, pl] = [before(x.h, oh, kh, sy!), before(x.w, ow, kw, sx!)];
  return make(oh, ow, cout, (y, xx, o) => {
    let sum = bias ? bias[o]! : 0;
    for (let dy = 0; dy < kh; dy++) {
      for (let dx = 0; dx < kw; dx++) {
        const [iy, ix] = [y * sy! + dy - pt, xx * sx! + dx - pl];
        if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue;
        for (let i = 0; i < x.c; i++) sum += at(x, iy, ix, i) * k[((dy * kw + dx) * x.c + i) * cout + o]!;
      }
    }
    return sum;
  });
}
const map = (x: T, f: (v: number) => number): T => ({ ...x, d: x.d.map(f) });
const relu = (x: T): T => map(x, (v) => Math.max(v, 0));
const add = (...xs: T[]): T => make(xs[0]!.h, xs[0]!.w, xs[0]!.c, (y, x, c) => xs.reduce((s, t) => s + at(t, y, x, c), 0));
const concat = (...xs: T[]): T => {
  const c = xs.reduce((n, t) => n + t.c, 0);
  return make(xs[0]!.h, xs[0]!.w, c, (y, x, ch) => {
    let t = 0;
    while (ch >= xs[t]!.c) ch -= xs[t++]!.c;
    return at(xs[t]!, y, x, ch);
  });
};
/** UpSampling2D nearest: every pixel repeated sy × sx times. */
const upsample = (x: T, sy: number, sx: number): T => make(x.h * sy, x.w * sx, x.c, (y, xx, c) => at(x, Math.floor(y / sy), Math.floor(xx / sx), c));
/** tf.nn.depth_to_space, NHWC: output (y·s + i, x·s + j, c) is input (y, x, (i·s + j)·C' + c). */
const depthToSpace = (x: T, s: number): T => make(x.h * s, x.w * s, x.c / (s * s), (y, xx, c) => at(x, Math.floor(y / s), Math.floor(xx / s), ((y % s) * s + (xx % s)) * (x.c / (s * s)) + c));

// --- Tiny TF.js layers models, built here as the TF.js converter writes them. ---

type LayerSpec = { class_name: string; name: string; inbound?: string[]; config?: Record<string, unknown> };

/**
 * model.json and shards for `layers` (Keras 2 Functional topology). The manifest lists the
 * weights in reverse and splits their bytes over two shards, so a converter that reads weights
 * by position or from one shard fails.
 */
function tfjsModel(input: [number | null, number | null, number], layers: LayerSpec[], weights: Array<[string, number[], Float32Array]>): TfjsModel {
  const all = [{ class_name: "InputLayer", name: "in", config: { batch_input_shape: [null, ...input] } }, ...layers];
  const ordered = [...weights].reverse();
  const bytes = new Uint8Array(ordered.reduce((n, [, , v]) => n + v.byteLength, 0));
  let off = 0;
  for (const [, , v] of ordered) {
    bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), off);
    off += v.byteLength;
  }
  const cut = Math.floor(bytes.length / 2) + 1; // not a multiple of 4: shards are byte ranges
  const modelJson = {
    format: "layers-model",
    modelTopology: {
      model_config: {
        class_name: "Functional",
        config: {
          name: "tiny",
          layers: all.map((l) => ({
            class_name: l.class_name, name: l.name, config: { name: l.name, ...l.config },
            inbound_nodes: "inbound" in l && l.inbound ? [l.inbound.map((i) => [i, 0, 0, {}])] : [],
          })),
          input_layers: [["in", 0, 0]],
          output_layers: [[all.at(-1)!.name, 0, 0]],
        },
      },
    },
    weightsManifest: [{ paths: ["a.bin", "b.bin"], weights: ordered.map(([name, shape]) => ({ name, shape, dtype: "float32" })) }],
  };
  // Views into one larger buffer, as Buffers from readFile can be: a converter must not read `.buffer` whole.
  const pool = new Uint8Array(bytes.length + 3);
  pool.set(bytes, 3);
  return { modelJson, shards: { "a.bin": pool.subarray(3, 3 + cut), "b.bin": pool.subarray(3 + cut) } };
}

/** Converts, runs the ONNX graph on onnxruntime (NCHW in and out) and returns NHWC. */
async function runConverted(model: TfjsModel, x: T): Promise<T> {
  const session = await ort.InferenceSession.create(convertTfjsLayers(model));
  try {
    const nchw = Float32Array.from({ length: x.d.length }, (_, i) => {
      const [c, rest] = [Math.floor(i / (x.h * x.w)), i % (x.h * x.w)];
      return x.d[rest * x.c + c]!;
    });
    const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", nchw, [1, x.c, x.h, x.w]) });
    const out = result[session.outputNames[0]!]!;
    const [, c, h, w] = out.dims as number[];
    const data = out.data as Float32Array;
    return make(h!, w!, c!, (y, xx, ch) => data[(ch * h! + y) * w! + xx]!);
  } finally {
    await session.release();
  }
}

async function expectClose(model: TfjsModel, x: T, reference: T): Promise<void> {
  const got = await runConverted(model, x);
  expect([got.h, got.w, got.c]).toEqual([reference.h, reference.w, reference.c]);
  const worst = got.d.reduce((m, v, i) => Math.max(m, Math.abs(v - reference.d[i]!)), 0);
  expect(worst).toBeLessThan(1e-5);
  expect(reference.d.some((v) => v !== 0)).toBe(true);
}

const conv = (name: string, inbound: string, filters: number, k: [number, number], extra: Record<string, unknown> = {}): LayerSpec =>
  ({ class_name: "Conv2D", name, inbound: [inbound], config: { filters, kernel_size: k, strides: [1, 1], padding: "same", dilation_rate: [1, 1], activation: "linear", use_bias: true, data_format: "channels_last", ...extra } });

describe("convertTfjsLayers, layer by layer against naive NHWC references", () => {
  it.each([
    ["3x3 same, bias", [3, 3], [1, 1], "same", true, "linear"],
    ["3x3 same, relu", [3, 3], [1, 1], "same", true, "relu"],
    ["2x4 same (even kernel: the odd pad goes after)", [2, 4], [1, 1], "same", true, "linear"],
    ["3x3 valid, no bias", [3, 3], [1, 1], "valid", false, "linear"],
    ["3x3 same, stride 2", [3, 3], [2, 2], "same", true, "linear"],
    ["2x3 valid, strides 2x1", [2, 3], [2, 1], "valid", true, "relu"],
  ] as const)("Conv2D %s", async (_, [kh, kw], strides, padding, useBias, activation) => {
    const [cin, cout] = [3, 5];
    const kernel = noise(kh * kw * cin * cout, 11);
    const bias = noise(cout, 12);
    const model = tfjsModel([null, null, cin], [conv("c", "in", cout, [kh, kw], { strides, padding, use_bias: useBias, activation })],
      [["c/kernel", [kh, kw, cin, cout], kernel], ...(useBias ? [["c/bias", [cout], bias] as [string, number[], Float32Array]] : [])]);
    const x = random(7, 9, cin, 13);
    const y = conv2d(x, kernel, kh, kw, cout, useBias ? bias : undefined, [...strides], padding);
    await expectClose(model, x, activation === "relu" ? relu(y) : y);
  });

  it("Activation relu and ReLU", async () => {
    const x = random(4, 5, 3, 21);
    await expectClose(tfjsModel([4, 5, 3], [{ class_name: "Activation", name: "a", inbound: ["in"], config: { activation: "relu" } }], []), x, relu(x));
    await expectClose(tfjsModel([4, 5, 3], [{ class_name: "ReLU", name: "r", inbound: ["in"], config: { max_value: null, negative_slope: 0, threshold: 0 } }], []), x, relu(x));
  });

  it("Add of two and of three tensors", async () => {
    const k = noise(3 * 4, 31);
    const k2 = noise(3 * 4, 33);
    const layers = [conv("p", "in", 4, [1, 1], { use_bias: false }), conv("q", "in", 4, [1, 1], { use_bias: false })];
    const x = random(5, 4, 3, 32);
    const p = conv2d(x, k, 1, 1, 4, undefined, [1, 1], "same");
    const q = conv2d(x, k2, 1, 1, 4, undefined, [1, 1], "same");
    const weights: Array<[string, number[], Float32Array]> = [["p/kernel", [1, 1, 3, 4], k], ["q/kernel", [1, 1, 3, 4], k2]];
    await expectClose(tfjsModel([null, null, 3], [...layers, { class_name: "Add", name: "s", inbound: ["p", "q"] }], weights), x, add(p, q));
    await expectClose(tfjsModel([null, null, 3], [...layers, { class_name: "Add", name: "s", inbound: ["p", "q", "p"] }], weights), x, add(p, q, p));
  });

  it("Concatenate on the channel axis (3 and -1)", async () => {
    const k = noise(3 * 2, 41);
    const x = random(3, 6, 3, 42);
    const weights: Array<[string, number[], Float32Array]> = [["p/kernel", [1, 1, 3, 2], k]];
    const p = conv2d(x, k, 1, 1, 2, undefined, [1, 1], "same");
    for (const axis of [3, -1]) {
      const model = tfjsModel([null, null, 3], [conv("p", "in", 2, [1, 1], { use_bias: false }), { class_name: "Concatenate", name: "cat", inbound: ["in", "p"], config: { axis } }], weights);
      await expectClose(model, x, concat(x, p));
    }
  });

  it("UpSampling2D nearest, 2x3", async () => {
    const x = random(3, 4, 3, 51);
    const model = tfjsModel([null, null, 3], [{ class_name: "UpSampling2D", name: "up", inbound: ["in"], config: { size: [2, 3], interpolation: "nearest", data_format: "channels_last" } }], []);
    await expectClose(model, x, upsample(x, 2, 3));
  });

  it("MultiplyBeta (esrgan-thick's custom layer): ×beta, 0.2 when unset", async () => {
    const x = random(3, 4, 12, 61);
    await expectClose(tfjsModel([null, null, 12], [{ class_name: "MultiplyBeta", name: "b", inbound: ["in"] }], []), x, map(x, (v) => v * Math.fround(0.2)));
    await expectClose(tfjsModel([null, null, 12], [{ class_name: "MultiplyBeta", name: "b", inbound: ["in"], config: { beta: 0.5 } }], []), x, map(x, (v) => v * 0.5));
  });

  it.each([2, 3, 8])("PixelShuffle%ix (esrgan-thick's custom layer): depth-to-space, DCR", async (s) => {
    // Three output channels, as the package's layer gives: 3·s² in.
    const x = random(3, 4, 3 * s * s, 62 + s);
    await expectClose(tfjsModel([null, null, 3 * s * s], [{ class_name: `PixelShuffle${s}x`, name: "ps", inbound: ["in"] }], []), x, depthToSpace(x, s));
  });

  it("a small RDN-like network: convs, relu, concat, add, pixel shuffle and upsampling composed", async () => {
    const w = (name: string, shape: number[], seed: number): [string, number[], Float32Array] => [name, shape, noise(shape.reduce((a, b) => a * b, 1), seed)];
    const weights = [
      w("f0/kernel", [3, 3, 3, 8], 71), w("f0/bias", [8], 72), w("f1/kernel", [3, 3, 8, 4], 73), w("f1/bias", [4], 74),
      w("lff/kernel", [1, 1, 12, 8], 75), w("lff/bias", [8], 76), w("up/kernel", [3, 3, 8, 12], 77), w("up/bias", [12], 78),
    ];
    const layers: LayerSpec[] = [
      conv("f0", "in", 8, [3, 3]), conv("f1", "f0", 4, [3, 3]),
      { class_name: "Activation", name: "f1_relu", inbound: ["f1"], config: { activation: "relu" } },
      { class_name: "Concatenate", name: "cat", inbound: ["f0", "f1_relu"], config: { axis: 3 } },
      conv("lff", "cat", 8, [1, 1]),
      { class_name: "Add", name: "res", inbound: ["lff", "f0"] },
      { class_name: "MultiplyBeta", name: "beta", inbound: ["res"] },
      conv("up", "beta", 12, [3, 3]),
      { class_name: "PixelShuffle2x", name: "ps", inbound: ["up"] },
      { class_name: "UpSampling2D", name: "sr", inbound: ["ps"], config: { size: [2, 2] } },
    ];
    const W = Object.fromEntries(weights.map(([n, , v]) => [n, v]));
    const x = make(6, 5, 3, (y, xx, c) => ((y * 5 + xx) * 3 + c) % 255); // 0..255 input, as slim takes
    const f0 = conv2d(x, W["f0/kernel"]!, 3, 3, 8, W["f0/bias"], [1, 1], "same");
    const f1 = relu(conv2d(f0, W["f1/kernel"]!, 3, 3, 4, W["f1/bias"], [1, 1], "same"));
    const res = add(conv2d(concat(f0, f1), W["lff/kernel"]!, 1, 1, 8, W["lff/bias"], [1, 1], "same"), f0);
    const up = conv2d(map(res, (v) => v * Math.fround(0.2)), W["up/kernel"]!, 3, 3, 12, W["up/bias"], [1, 1], "same");
    const want = upsample(depthToSpace(up, 2), 2, 2);
    const got = await runConverted(tfjsModel([null, null, 3], layers, weights), x);
    expect([got.h, got.w, got.c]).toEqual([24, 20, 3]);
    // Values reach the hundreds here: float32 sums against double ones, relative to their size.
    const worst = got.d.reduce((m, v, i) => Math.max(m, Math.abs(v - want.d[i]!) / (1 + Math.abs(want.d[i]!))), 0);
    expect(worst).toBeLessThan(1e-4);
  });
});

type Weights = Array<[string, number[], Float32Array]>;
const REFUSED: Array<[string, LayerSpec[], Weights, RegExp]> = [
  ["an unknown layer class", [{ class_name: "BatchNormalization", name: "bn", inbound: ["in"] }], [], /layer bn \(BatchNormalization\) is not supported: no ONNX mapping/],
  ["a dilated Conv2D", [conv("dil", "in", 2, [3, 3], { dilation_rate: [2, 2] })], [["dil/kernel", [3, 3, 3, 2], noise(54, 1)], ["dil/bias", [2], noise(2, 2)]], /layer dil \(Conv2D\) is not supported: .*dilation_rate/s],
  ["a bilinear UpSampling2D", [{ class_name: "UpSampling2D", name: "bi", inbound: ["in"], config: { interpolation: "bilinear" } }], [], /layer bi \(UpSampling2D\) is not supported: .*interpolation/s],
  ["a Conv2D without its kernel", [conv("lost", "in", 2, [1, 1], { use_bias: false })], [["other/kernel", [1, 1, 3, 2], noise(6, 3)]], /layer lost: no weight named lost\/kernel/],
  ["a kernel of the wrong size", [conv("odd", "in", 2, [1, 1], { use_bias: false })], [["odd/kernel", [1, 1, 3, 3], noise(9, 4)]], /layer odd: weight odd\/kernel has 9 values, the layer needs \[1, 1, 3, 2\]/],
];

describe("convertTfjsLayers refuses what it cannot convert, naming the layer", () => {
  it.each(REFUSED)("%s", (_, layers, weights, message) => {
    expect(() => convertTfjsLayers(tfjsModel([null, null, 3], layers, weights))).toThrow(message);
  });

  it("refuses quantized weights, a missing shard and a file that is not a layers model", () => {
    const model = tfjsModel([null, null, 3], [conv("c", "in", 2, [1, 1], { use_bias: false })], [["c/kernel", [1, 1, 3, 2], noise(6, 5)]]);
    const json = model.modelJson as { weightsManifest: Array<{ weights: Array<Record<string, unknown>> }> };
    const quantized = structuredClone(json);
    quantized.weightsManifest[0]!.weights[0]!.quantization = { dtype: "uint8", scale: 0.1, min: 0 };
    expect(() => convertTfjsLayers({ ...model, modelJson: quantized })).toThrow(/weight c\/kernel is quantized/);
    expect(() => convertTfjsLayers({ ...model, shards: { "a.bin": model.shards["a.bin"]! } })).toThrow(/weight shard b\.bin is missing/);
    expect(() => convertTfjsLayers({ modelJson: { format: "graph-model", modelTopology: { node: [] } }, shards: {} })).toThrow(/not a TF\.js layers model/);
  });

  it("finds a weight whose name carries the model's prefix", async () => {
    const k = noise(6, 6);
    const x = random(2, 3, 3, 7);
    const model = tfjsModel([null, null, 3], [conv("c", "in", 2, [1, 1], { use_bias: false })], [["generator/c/kernel", [1, 1, 3, 2], k]]);
    await expectClose(model, x, conv2d(x, k, 1, 1, 2, undefined, [1, 1], "same"));
  });

  it("gives the same bytes for the same model (its sha256 is a stable cache key)", () => {
    const model = tfjsModel([null, null, 3], [conv("c", "in", 2, [3, 3])], [["c/kernel", [3, 3, 3, 2], noise(54, 8)], ["c/bias", [2], noise(2, 9)]]);
    expect(Buffer.from(convertTfjsLayers(model)).equals(Buffer.from(convertTfjsLayers(model)))).toBe(true);
  });
});
