import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { decodeModel } from "../models/onnx-builder.js";
import type onnxProto from "onnx-proto";
import { convertTfjsLayers } from "../models/tfjs/convert.js";
import { readTfjsModel } from "../models/tfjs/read.js";
import { UsageError, type Io } from "./io.js";
import type { Options } from "./run.js";

/** `models convert-tfjs DIR --out FILE`: local, no API call. Exit 0, or 1 when DIR cannot be converted. */
export async function convertTfjsCommand(args: string[], options: Options, io: Io): Promise<number> {
  const [dir, ...rest] = args;
  if (dir === undefined || rest.length || !options.out) throw new UsageError("models convert-tfjs DIR --out FILE.onnx");
  let bytes: Uint8Array;
  try {
    bytes = convertTfjsLayers(await readTfjsModel(dir));
  } catch (err) {
    io.stderr(`pixelmill: cannot convert ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
  await writeFile(options.out, bytes);
  const graph = decodeModel(bytes).graph;
  type Tensor = { name: string; dims: Array<string | number> };
  const tensors = (list: onnxProto.onnx.IValueInfoProto[] | null | undefined): Tensor[] =>
    (list ?? []).map((t) => ({ name: t.name ?? "", dims: (t.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue)) }));
  const result = { file: options.out, bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex"), inputs: tensors(graph?.input), outputs: tensors(graph?.output) };
  const line = (kind: string) => (t: Tensor) => `  ${kind} ${t.name}  float32 [${t.dims.join(", ")}]`;
  const human = [`${result.file}  ${result.bytes} bytes  sha256 ${result.sha256}`, ...result.inputs.map(line("input ")), ...result.outputs.map(line("output"))].join("\n");
  io.stdout(options.json ? `${JSON.stringify(result)}\n` : `${human}\n`);
  return 0;
}
