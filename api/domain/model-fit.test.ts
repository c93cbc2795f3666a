import { describe, expect, it } from "vitest";
import { contractMisfits, type GraphSignature, type TensorContract } from "./model-fit.js";

const image = (shape: Array<number | string>, name = "image") => ({ name, tensor: true, type: "float32", shape });
const graph = (inputs: GraphSignature["inputs"], outputs = [image(["N", 3, "H", "W"], "out")]): GraphSignature => ({ inputs, outputs });
const contract = (over: Partial<TensorContract> = {}): TensorContract => ({ input: { range: { min: 0, max: 1 } }, output: { kind: "image" }, ...over });

describe("contractMisfits", () => {
  it("takes an image input of 3, 1 or a dynamic count of channels where the layout puts them", () => {
    expect(contractMisfits(graph([image(["N", 3, "H", "W"])]), contract())).toEqual([]);
    expect(contractMisfits(graph([image([1, 1, 64, 64])]), contract())).toEqual([]);
    expect(contractMisfits(graph([image(["N", "C", "H", "W"])]), contract())).toEqual([]);
    expect(contractMisfits(graph([image([-1, -1, -1, -1])]), contract())).toEqual([]);
    expect(contractMisfits(graph([image(["N", "H", "W", 3])]), contract({ input: { layout: "NHWC", range: { min: 0, max: 1 } } }))).toEqual([]);
    expect(contractMisfits(graph([image(["N", 3, "H", "W"])]), contract({ input: { layout: "NHWC", range: { min: 0, max: 1 } } }))).toEqual([]);
    expect(contractMisfits(graph([image(["N", "H", "W", 4])]), contract({ input: { layout: "NHWC", range: { min: 0, max: 1 } } })))
      .toEqual(['the image input "image" has 4 channels in NHWC ([N, H, W, 4]): an image has 3 (RGB, BGR) or 1 (GRAY)']);
  });

  it("names the input and output by the contract, else the graph's first", () => {
    const g = graph([image(["N", 3, "H", "W"], "a"), image(["N", 3, "H", "W"], "b")], [image(["N", 3, "H", "W"], "x"), image(["N", 3, "H", "W"], "y")]);
    expect(contractMisfits(g, contract({ input: { name: "b", range: { min: 0, max: 1 } }, output: { name: "y", kind: "image" }, params: [{ name: "a", type: "number" }] }))).toEqual([]);
    expect(contractMisfits(g, contract({ params: [{ name: "b", type: "number" }] }))).toEqual([]);
    expect(contractMisfits(g, contract({ input: { name: "c", range: { min: 0, max: 1 } }, output: { name: "z", kind: "image" } }))).toEqual([
      'the model has no input named "c" (its inputs: a, b)',
      'the model has no output named "z" (its outputs: x, y)',
    ]);
  });

  it("wants every other graph input declared as a param", () => {
    const g = graph([image(["N", 3, "H", "W"]), { name: "strength", tensor: true, type: "float32", shape: [] }]);
    expect(contractMisfits(g, contract())).toEqual(['the model\'s input "strength" is neither the image input nor a declared param']);
    expect(contractMisfits(g, contract({ params: [{ name: "strength", type: "number" }] }))).toEqual([]);
  });

  it("refuses an image input that is not a float32 tensor of rank 4", () => {
    expect(contractMisfits(graph([{ name: "image", tensor: false }]), contract())).toEqual(['the image input "image" is not a tensor']);
    expect(contractMisfits(graph([{ ...image(["N", 3, "H", "W"]), type: "uint8" }]), contract())).toEqual(['the image input "image" is uint8, not float32']);
    expect(contractMisfits(graph([image(["H", "W", 3])]), contract())).toEqual(['the image input "image" has rank 3 ([H, W, 3]), not 4 (NCHW)']);
  });

  it("says so for a graph with no inputs or outputs at all", () => {
    expect(contractMisfits({ inputs: [], outputs: [] }, contract())).toEqual(['the model has no input named "" (its inputs: none)', 'the model has no output named "" (its outputs: none)']);
  });
});
