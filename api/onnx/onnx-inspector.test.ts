import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinModel } from "../../models/builtin.js";
import { InvalidModelError } from "../domain/errors.js";
import { OnnxInspector } from "./onnx-inspector.js";

/** Real onnxruntime sessions, in the inspector's thread, on real model files. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "onnx-inspector-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function file(name: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe("OnnxInspector", () => {
  it("reports a graph's inputs and outputs: names, element types and shapes with their symbolic dimensions", async () => {
    const inspector = new OnnxInspector({ timeoutMs: 30_000 });
    expect(await inspector.inspect(await file("gray.onnx", (await builtinModel("grayscale"))!))).toEqual({
      inputs: [{ name: "image", tensor: true, type: "float32", shape: ["N", 3, "H", "W"] }],
      outputs: [{ name: "output", tensor: true, type: "float32", shape: ["N", 1, "H", "W"] }],
    });
    const detect = await inspector.inspect(await file("detect.onnx", (await builtinModel("text-detect"))!));
    expect(detect.inputs.map((i) => [i.name, i.shape?.length])).toEqual([["x", 4], ["threshold", 0]]);
  });

  it("refuses a file onnxruntime cannot load, without naming the server's path", async () => {
    const path = await file("junk.onnx", "not a model at all");
    const err = await new OnnxInspector({ timeoutMs: 30_000 }).inspect(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidModelError);
    expect((err as Error).message).toMatch(/^onnxruntime cannot load the file as an ONNX model: /);
    expect((err as Error).message).not.toContain(dir);
  });

  it("refuses a load that takes longer than its timeout", async () => {
    const path = await file("slow.onnx", (await builtinModel("text-detect"))!);
    const started = Date.now();
    await expect(new OnnxInspector({ timeoutMs: 1 }).inspect(path)).rejects.toThrow("onnxruntime did not load the model within 1 ms (MODEL_LOAD_TIMEOUT_MS)");
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
