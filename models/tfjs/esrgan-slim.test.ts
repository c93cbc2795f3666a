import { describe, expect, it } from "vitest";
import ort from "onnxruntime-node";
import { convertTfjsLayers } from "./convert.js";
import { packageFolder, readTfjsModel } from "./read.js";

/** A real packaged model, as a team would bring it: @upscalerjs/esrgan-slim ×2 (RDN, MIT, 0..255 in and out). */
describe("convertTfjsLayers on @upscalerjs/esrgan-slim x2", () => {
  it("gives a graph onnxruntime runs: NCHW, twice the size, an image close to the input", async () => {
    const bytes = convertTfjsLayers(await readTfjsModel(packageFolder("@upscalerjs/esrgan-slim", "models/x2")), "esrgan_slim_x2");
    const session = await ort.InferenceSession.create(bytes);
    try {
      expect([session.inputNames, session.outputNames]).toEqual([["LR"], ["SR"]]);
      const [h, w] = [12, 16];
      // A smooth gradient: an upscaler should give back the same gradient, twice as large.
      const value = (c: number, y: number, x: number) => 40 + 10 * x + 8 * y + 20 * c;
      const input = Float32Array.from({ length: 3 * h * w }, (_, i) => value(Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w));
      const out = (await session.run({ LR: new ort.Tensor("float32", input, [1, 3, h, w]) })).SR!;
      expect(out.dims).toEqual([1, 3, 2 * h, 2 * w]);
      const data = out.data as Float32Array;
      let error = 0;
      for (let i = 0; i < data.length; i++) {
        const [c, y, x] = [Math.floor(i / (4 * h * w)), Math.floor(i / (2 * w)) % (2 * h), i % (2 * w)];
        error += Math.abs(data[i]! - value(c, (y - 0.5) / 2, (x - 0.5) / 2));
      }
      expect(error / data.length).toBeLessThan(5);
    } finally {
      await session.release();
    }
  });
});
