import { describe, expect, it } from "vitest";
import { receptiveRadius } from "./receptive-field.js";

const layer = (class_name: string, name: string, from: string[], config: Record<string, unknown> = {}) => ({
  class_name,
  config: { name, ...config },
  inbound_nodes: from.length ? [from.map((f) => [f, 0, 0, {}])] : [],
});

const model = (layers: ReturnType<typeof layer>[], output: string) => ({
  modelTopology: { model_config: { class_name: "Functional", config: { layers, input_layers: [["in", 0, 0]], output_layers: [[output, 0, 0]] } } },
});

describe("receptiveRadius", () => {
  it("sums kernel radii along the deepest path, those after an upsampling in input pixels (rounded up)", () => {
    const layers = [
      layer("InputLayer", "in", []),
      layer("Conv2D", "a", ["in"], { kernel_size: [3, 3], filters: 4, padding: "same" }),
      layer("Conv2D", "b", ["a"], { kernel_size: 5, filters: 4, padding: "same" }),
      // A shortcut past b: the deeper branch decides.
      layer("Add", "sum", ["b", "a"]),
      layer("UpSampling2D", "up", ["sum"], { size: [2, 2] }),
      layer("Conv2D", "c", ["up"], { kernel_size: [3, 3], filters: 3, padding: "same" }),
    ];
    expect(receptiveRadius(model(layers, "c"))).toBe(1 + 2 + 1);
    expect(receptiveRadius(model(layers, "sum"))).toBe(3);
  });

  it("refuses layers whose reach it does not know", () => {
    const layers = [layer("InputLayer", "in", []), layer("MaxPooling2D", "pool", ["in"], { pool_size: [2, 2] })];
    expect(() => receptiveRadius(model(layers, "pool"))).toThrow("layer pool (MaxPooling2D): its receptive field is not known");
    const strided = [layer("InputLayer", "in", []), layer("Conv2D", "s", ["in"], { kernel_size: 3, strides: 2, filters: 1, padding: "same" })];
    expect(() => receptiveRadius(model(strided, "s"))).toThrow("strided convolutions are not supported");
  });
});
