import { parentPort, workerData } from "node:worker_threads";
import ort from "onnxruntime-node";
import { errorToWire, fromWire, toWire, type ThreadInit, type ThreadReply, type ThreadRequest } from "./tensor-wire.js";

/**
 * Entry of one session thread (started by threaded-session.ts): it owns one onnxruntime
 * session, whose synchronous native runs block this thread instead of the worker's JS thread.
 * Requests are handled in order of arrival; a run's outputs are moved back, not copied.
 */
const port = parentPort!;
const init = workerData as ThreadInit;

function reply(message: ThreadReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function serve(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(init.path, init.sessionOptions);
  } catch (err) {
    // The main side ends the thread once it has read why.
    reply({ kind: "failed", error: errorToWire(err) });
    return;
  }
  port.on("message", (request: ThreadRequest) => {
    void handle(session, request);
  });
  reply({ kind: "ready", inputMetadata: [...session.inputMetadata], outputNames: [...session.outputNames] });
}

async function handle(session: ort.InferenceSession, request: ThreadRequest): Promise<void> {
  if (request.kind === "release") {
    await session.release().catch(() => undefined);
    reply({ kind: "released" });
    return;
  }
  try {
    const outputs = await session.run(fromWire(request.feeds));
    const { wire, transfer } = toWire(outputs, 0);
    reply({ kind: "result", id: request.id, outputs: wire }, transfer);
  } catch (err) {
    reply({ kind: "error", id: request.id, error: errorToWire(err) });
  }
}

await serve();
