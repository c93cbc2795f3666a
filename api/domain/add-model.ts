import { createReadStream } from "node:fs";
import { API_VERSION, type ImageModel, type ModelOrigin } from "../../common/crd-types.js";
import { modelsPrefix } from "../../common/job/input-access.js";
import type { Logger } from "../../common/logger.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { InvalidModelError } from "./errors.js";
import { contractMisfits, type TensorContract } from "./model-fit.js";
import type { Cluster, ModelInspector } from "./ports.js";
import type { Principal } from "./principal.js";


/** Who added an ImageModel through the API: the id of the key (never the key). */
export const ADDED_BY_KEY_ANNOTATION = "pixelmill.io/added-by-key";

/** The tasks a brought model may have: one graph, image in, image or mask out. */
export type BroughtTask = "image-to-image" | "image-to-mask";

export interface NewModel {
  name: string;
  task: BroughtTask;
  contract: TensorContract & { pools?: string[] };
  license?: string;
  origin?: ModelOrigin;
}

/** The model's ONNX file on the API's disk (a temporary file the caller removes), with its hash. */
export interface ModelFile {
  path: string;
  sha256: string;
  bytes: number;
}

export interface AddModelDeps {
  cluster: Cluster;
  store: ObjectStore;
  inspector: ModelInspector;
  log: Logger;
}

/**
 * Adds a model a caller brings (POST /v1/models) to the caller's own namespace: the platform
 * tenant's are the shared models, any other tenant's are its own (ADR 0007, 0016). The file is
 * loaded by onnxruntime and held to its contract before anything is stored, stored by its
 * hash, and the ImageModel pins that hash; the apiserver's validation of the ImageModel is the
 * last word. Nothing is left behind when a step fails.
 */
export class AddModel {
  constructor(private readonly deps: AddModelDeps) {}

  async add(principal: Principal, model: NewModel, file: ModelFile): Promise<ImageModel> {
    const { namespace } = principal;
    const key = `${modelsPrefix(namespace)}${file.sha256}.onnx`;
    const resource = this.imageModel(principal, model, { uri: this.deps.store.uri(key), sha256: file.sha256 });
    // Cheap first: a taken name (409) or a spec the CRD refuses (422) before onnxruntime loads anything.
    await this.deps.cluster.createModel(resource, { dryRun: true });
    const graph = await this.deps.inspector.inspect(file.path);
    const misfits = contractMisfits(graph, model.contract);
    if (misfits.length) throw new InvalidModelError(`the model does not fit its contract: ${misfits.join("; ")}`);

    // The same bytes under another name share the object (its key is their hash; a size that
    // differs means it is not them): only an object stored now is removed on failure.
    const shared = (await this.deps.store.head(key))?.bytes === file.bytes;
    if (!shared) await this.deps.store.put(key, createReadStream(file.path), { contentType: "application/octet-stream" });
    try {
      const created = await this.deps.cluster.createModel(resource);
      this.deps.log.info({ model: model.name, namespace, sha256: file.sha256, bytes: file.bytes, key: principal.keyId }, "Model added");
      return created;
    } catch (err) {
      if (!shared) {
        await this.deps.store.delete(key).catch((e: unknown) => this.deps.log.error({ key, err: e }, "Could not delete the file of a model that was not added"));
      }
      throw err;
    }
  }

  private imageModel(principal: Principal, model: NewModel, source: { uri: string; sha256: string }): ImageModel {
    const { input, output, params, pools } = model.contract;
    return {
      apiVersion: API_VERSION, kind: "ImageModel",
      metadata: { name: model.name, namespace: principal.namespace, annotations: { [ADDED_BY_KEY_ANNOTATION]: principal.keyId } },
      spec: {
        source, task: model.task, input, output,
        ...(params?.length ? { params } : {}), ...(pools?.length ? { pools } : {}),
        ...(model.license ? { license: model.license } : {}), ...(model.origin ? { origin: model.origin } : {}),
      },
    };
  }
}
