import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { packageFolder } from "../models/tfjs/read.js";
import { run } from "./run.js";

/** `pixelmill models convert-tfjs`, run as the CLI would: local files only, no API. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-convert-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  // An address nothing listens on: the command must not need the API.
  const code = await run(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { PIXELMILL_API_URL: "http://127.0.0.1:9" } });
  return { code, stdout, stderr };
}

const slimX2 = () => packageFolder("@upscalerjs/esrgan-slim", "models/x2");

describe("pixelmill models convert-tfjs", () => {
  it("writes the ONNX file and prints its size, sha256, inputs and outputs", async () => {
    const out = join(dir, "slim-x2.onnx");
    const res = await cli(["models", "convert-tfjs", slimX2(), "--out", out]);
    expect(res).toMatchObject({ code: 0, stderr: "" });
    const bytes = await readFile(out);
    const sha = createHash("sha256").update(bytes).digest("hex");
    expect(res.stdout).toBe(`${out}  ${bytes.length} bytes  sha256 ${sha}\n  input  LR  float32 [N, 3, H, W]\n  output SR  float32 [N, 3, H_out, W_out]\n`);
    const session = await ort.InferenceSession.create(out);
    expect([session.inputNames, session.outputNames]).toEqual([["LR"], ["SR"]]);
    await session.release();

    const json = await cli(["--json", "models", "convert-tfjs", slimX2(), "-o", out]);
    expect(JSON.parse(json.stdout)).toEqual({ file: out, bytes: bytes.length, sha256: sha, inputs: [{ name: "LR", dims: ["N", 3, "H", "W"] }], outputs: [{ name: "SR", dims: ["N", 3, "H_out", "W_out"] }] });
  });

  it("exits 1 naming the layer it cannot convert, and 2 on a usage error", async () => {
    const model = join(dir, "bn");
    await rm(model, { recursive: true, force: true });
    await mkdir(model);
    const layers = [
      { class_name: "InputLayer", config: { name: "in", batch_input_shape: [null, null, null, 3] }, inbound_nodes: [] },
      { class_name: "BatchNormalization", config: { name: "bn" }, inbound_nodes: [[["in", 0, 0, {}]]] },
    ];
    const modelJson = { format: "layers-model", modelTopology: { model_config: { class_name: "Functional", config: { layers, input_layers: [["in", 0, 0]], output_layers: [["bn", 0, 0]] } } }, weightsManifest: [] };
    await writeFile(join(model, "model.json"), JSON.stringify(modelJson));
    const out = join(dir, "bn.onnx");
    const res = await cli(["models", "convert-tfjs", model, "--out", out]);
    expect(res).toMatchObject({ code: 1, stdout: "" });
    expect(res.stderr).toBe(`pixelmill: cannot convert ${model}: layer bn (BatchNormalization) is not supported: no ONNX mapping for this layer class\n`);
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
    expect((await cli(["models", "convert-tfjs", join(dir, "nowhere"), "--out", out])).stderr).toMatch(/cannot convert .*nowhere: ENOENT/);

    expect((await cli(["models", "convert-tfjs", model])).code).toBe(2);
    expect((await cli(["models", "convert-tfjs", "--out", out])).code).toBe(2);
  });
});
