import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { InvalidModelError } from "../domain/errors.js";
import type { GraphSignature } from "../domain/model-fit.js";
import type { ModelInspector } from "../domain/ports.js";

/**
 * The thread's code, plain CommonJS so that it runs as it is from sources and once built. It
 * loads the file on the CPU without graph optimizations (the load alone says whether
 * onnxruntime can read the file and has a kernel for each node), reports the graph's inputs
 * and outputs, and releases the session.
 */
const THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ort);
const values = (list) => list.map((v) => ({ name: v.name, tensor: v.isTensor, type: v.isTensor ? v.type : undefined, shape: v.isTensor ? [...v.shape] : undefined }));
ort.InferenceSession.create(workerData.path, { executionProviders: ["cpu"], graphOptimizationLevel: "disabled", intraOpNumThreads: 1, interOpNumThreads: 1 })
  .then(async (session) => {
    const graph = { inputs: values(session.inputMetadata), outputs: values(session.outputMetadata) };
    await session.release();
    parentPort.postMessage({ ok: true, graph });
  }, (err) => parentPort.postMessage({ ok: false, message: String((err && err.message) || err) }));
`;

type Reply = { ok: true; graph: GraphSignature } | { ok: false; message: string };

/**
 * Loads an uploaded model with onnxruntime-node in a worker thread of the API: a load is a
 * native call that can take seconds for a large graph, which on the request thread would stall
 * every other request. A load past `timeoutMs` is refused, and its thread ended.
 */
export class OnnxInspector implements ModelInspector {
  private readonly ort = createRequire(import.meta.url).resolve("onnxruntime-node");

  constructor(private readonly opts: { timeoutMs: number }) {}

  async inspect(path: string): Promise<GraphSignature> {
    const thread = new Worker(THREAD, { eval: true, workerData: { path, ort: this.ort } });
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await new Promise<Reply>((resolve, reject) => {
        thread.once("message", resolve);
        thread.once("error", reject);
        thread.once("exit", (code) => reject(new Error(`the onnxruntime thread exited with code ${code} before loading the model`)));
        timer = setTimeout(() => reject(new InvalidModelError(`onnxruntime did not load the model within ${this.opts.timeoutMs} ms (MODEL_LOAD_TIMEOUT_MS)`)), this.opts.timeoutMs);
      });
      if (!reply.ok) throw new InvalidModelError(`onnxruntime cannot load the file as an ONNX model: ${firstLine(reply.message.split(path).join("<upload>"))}`);
      return reply.graph;
    } finally {
      clearTimeout(timer);
      await thread.terminate();
    }
  }
}

/** onnxruntime's messages repeat the file path and carry a native stack: the first line says it. */
function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/^Error: /, "").slice(0, 500);
}
