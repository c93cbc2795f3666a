import type { ModelInput, ModelOutput, ModelParam } from "../../common/crd-types.js";

/** One input or output of an ONNX graph, as onnxruntime reports it once the file is loaded. */
export interface GraphValue {
  name: string;
  /** False for sequences and maps. */
  tensor: boolean;
  /** onnxruntime's element type: float32, int64, … */
  type?: string;
  /** A number for a fixed dimension; a string (symbolic) or a negative number for a dynamic one. */
  shape?: ReadonlyArray<number | string>;
}

export interface GraphSignature {
  inputs: GraphValue[];
  outputs: GraphValue[];
}

/** The part of an ImageModel spec that says how a worker feeds the graph and reads it back. */
export interface TensorContract {
  input: ModelInput;
  output: ModelOutput;
  params?: ModelParam[];
}

/**
 * Why the worker could not run `graph` under `contract`, or an empty list when it could: the
 * image input exists and is a float32 [N, C, H, W] (or [N, H, W, C]) tensor with 3 or 1 channels
 * or a dynamic count, the output exists, and every other input is a declared param (the worker
 * feeds a graph only the image and the params). Checked on upload so that a model that cannot
 * work is refused with the reason, not accepted to fail every job later.
 */
export function contractMisfits(graph: GraphSignature, contract: TensorContract): string[] {
  const problems: string[] = [];
  const names = (values: GraphValue[]) => values.map((v) => v.name).join(", ") || "none";
  const inputName = contract.input.name || graph.inputs[0]?.name;
  const input = graph.inputs.find((v) => v.name === inputName);
  if (!input) problems.push(`the model has no input named ${JSON.stringify(inputName ?? "")} (its inputs: ${names(graph.inputs)})`);
  else problems.push(...imageInputMisfits(input, contract.input.layout ?? "NCHW"));

  const outputName = contract.output.name || graph.outputs[0]?.name;
  if (!graph.outputs.some((v) => v.name === outputName)) {
    problems.push(`the model has no output named ${JSON.stringify(outputName ?? "")} (its outputs: ${names(graph.outputs)})`);
  }

  // Without the image input found, every input would look undeclared: the name is the problem.
  const params = new Set((contract.params ?? []).map((p) => p.name));
  for (const other of input ? graph.inputs.filter((v) => v !== input) : []) {
    if (!params.has(other.name)) problems.push(`the model's input ${JSON.stringify(other.name)} is neither the image input nor a declared param`);
  }
  return problems;
}

function imageInputMisfits(input: GraphValue, layout: "NCHW" | "NHWC"): string[] {
  const what = `the image input ${JSON.stringify(input.name)}`;
  if (!input.tensor) return [`${what} is not a tensor`];
  const problems: string[] = [];
  if (input.type !== "float32") problems.push(`${what} is ${input.type ?? "of an unknown type"}, not float32`);
  const shape = input.shape ?? [];
  if (shape.length !== 4) {
    problems.push(`${what} has rank ${shape.length} ([${shape.join(", ")}]), not 4 (${layout})`);
    return problems;
  }
  const channels = shape[layout === "NCHW" ? 1 : 3]!;
  if (typeof channels === "number" && channels > 0 && channels !== 1 && channels !== 3) {
    problems.push(`${what} has ${channels} channels in ${layout} ([${shape.join(", ")}]): an image has 3 (RGB, BGR) or 1 (GRAY)`);
  }
  return problems;
}
