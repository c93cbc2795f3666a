import onnxProto from "onnx-proto";

// onnx-proto is CommonJS: its namespace is the default export under Node's ESM.
export const { onnx } = onnxProto;

/** IR version 8 (ONNX 1.10+) and opset 17: old enough for every onnxruntime build we ship. */
export const IR_VERSION = 8;
export const OPSET = 17;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

type AttrValue = number | string | number[];
/** Numbers are INT/INTS attributes unless named here as float or floats. */
type AttrKinds = Record<string, "int" | "float" | "ints" | "floats" | "string">;

/** A dimension is a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

export function valueInfo(name: string, elemType: number, shape: Dim[]): onnxProto.onnx.IValueInfoProto {
  const dim = shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

export function floatTensor(name: string, dims: number[], values: readonly number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, floatData: [...values] };
}

export function int64Tensor(name: string, dims: number[], values: readonly number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: INT64, int64Data: [...values] };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  kinds: AttrKinds = {},
): onnxProto.onnx.INodeProto {
  const attribute = Object.entries(attrs).map(([name, value]) => attribute1(name, value, kinds[name]));
  return { opType, input: inputs, output: outputs, name: `${opType}_${outputs[0] ?? ""}`, attribute };
}

function attribute1(name: string, value: AttrValue, kind: AttrKinds[string] | undefined): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return kind === "floats" ? { name, type: T.FLOATS, floats: value } : { name, type: T.INTS, ints: value };
  return kind === "float" ? { name, type: T.FLOAT, f: value } : { name, type: T.INT, i: value };
}

export interface GraphParts {
  name: string;
  doc: string;
  nodes: onnxProto.onnx.INodeProto[];
  initializers?: onnxProto.onnx.ITensorProto[];
  inputs: onnxProto.onnx.IValueInfoProto[];
  outputs: onnxProto.onnx.IValueInfoProto[];
}

/** Serialises a single-graph model. The bytes are deterministic, so their sha256 is stable. */
export function encodeModel(parts: GraphParts): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "pixelmill",
    producerVersion: "1",
    docString: parts.doc,
    graph: {
      name: parts.name,
      node: parts.nodes,
      initializer: parts.initializers ?? [],
      input: parts.inputs,
      output: parts.outputs,
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeDecoded(model: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
