import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageModel } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { FileObjectStore } from "../../common/storage/index.js";
import { builtinModel } from "../../models/builtin.js";
import { OnnxInspector } from "../onnx/onnx-inspector.js";
import { modelsPrefix } from "../../common/job/input-access.js";
import { AddModel, type ModelFile } from "./add-model.js";
import { ModelRejectedError } from "./errors.js";
import type { Cluster } from "./ports.js";
import type { Principal } from "./principal.js";

// What AddModel leaves behind when the create itself fails (after its dry run passed: a race, or
// an apiserver that changed its mind). The apiserver is a fake here, to fail on cue; the store and
// onnxruntime are real. api/http/models.test.ts covers the rest on the real parts.
let dir: string;
let store: FileObjectStore;
let file: ModelFile;
const principal: Principal = { tenantId: "t", tenantName: "acme", namespace: "acme", keyId: "k1", scopes: ["models:write"] };
const model = { name: "gray", task: "image-to-image" as const, contract: { input: { range: { min: 0, max: 1 } }, output: { kind: "image" as const } } };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "add-model-"));
  store = new FileObjectStore(join(dir, "store"));
  const bytes = (await builtinModel("grayscale"))!;
  await writeFile(join(dir, "gray.onnx"), bytes);
  file = { path: join(dir, "gray.onnx"), bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Passes the dry run, then refuses the create. */
function refusingCluster(created: ImageModel[]): Cluster {
  return {
    createModel: (m: ImageModel, opts?: { dryRun?: boolean }) => {
      if (opts?.dryRun) return Promise.resolve(m);
      created.push(m);
      return Promise.reject(new ModelRejectedError("changed its mind"));
    },
  } as Partial<Cluster> as Cluster;
}

const add = (cluster: Cluster) => new AddModel({ cluster, store, inspector: new OnnxInspector({ timeoutMs: 30_000 }), log: createLogger({ level: "silent" }) });

describe("AddModel when the ImageModel cannot be created", () => {
  it("deletes the file it stored, after pinning exactly that file's URI and hash", async () => {
    const tried: ImageModel[] = [];
    await expect(add(refusingCluster(tried)).add(principal, model, file)).rejects.toBeInstanceOf(ModelRejectedError);
    const key = `${modelsPrefix("acme")}${file.sha256}.onnx`;
    expect(tried.map((m) => m.spec.source)).toEqual([{ uri: store.uri(key), sha256: file.sha256 }]);
    expect(await store.head(key)).toBeUndefined();
  });

  it("keeps a file that was stored already (the same bytes under another model's name)", async () => {
    const key = `${modelsPrefix("acme")}${file.sha256}.onnx`;
    await store.put(key, await readFile(file.path));
    await expect(add(refusingCluster([])).add(principal, model, file)).rejects.toBeInstanceOf(ModelRejectedError);
    expect(await store.head(key)).toMatchObject({ bytes: file.bytes });
  });
});
