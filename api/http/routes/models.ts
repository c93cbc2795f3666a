import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Router, type RequestHandler } from "express";
import type { ImageModel, ModelInput } from "../../../common/crd-types.js";
import type { AddModel } from "../../domain/add-model.js";
import type { Authenticate } from "../../domain/authenticate.js";
import { UploadTooLargeError } from "../../domain/errors.js";
import type { Cluster } from "../../domain/ports.js";
import { principalOf, requireKey } from "../auth.js";
import { UnsupportedMediaTypeError } from "../http-errors.js";
import { parseModelForm } from "../model-form.js";
import { onnxFileOf, receiveModelParts } from "../model-parts.js";
import type { ModelView } from "../schemas.js";

export interface ModelRoutesDeps {
  cluster: Cluster;
  auth: Authenticate;
  add: AddModel;
  /** MODEL_UPLOAD_MAX_BYTES: all the files of one POST /v1/models together. */
  maxUploadBytes: number;
  /** Runs after the key is checked and before the body is read (503 while storage is down). */
  beforeAdd?: RequestHandler;
  /** Where each request's files are kept while they are checked; the OS's temporary folder. */
  tmpDir?: string;
}

/** Room for the multipart framing and the fields around the files. */
const MULTIPART_OVERHEAD = 1024 * 1024;

/**
 * GET /v1/models: the ImageModels the caller's jobs can name (the platform's and its own), with
 * their tensor contract, params and provenance. POST /v1/models: a model the caller brings,
 * added to its own namespace (AddModel).
 */
export function modelRoutes(deps: ModelRoutesDeps): Router {
  const router = Router();
  router.get("/v1/models", requireKey(deps.auth, "models:read"), async (_req, res) => {
    const models = await deps.cluster.listModels(principalOf(res).namespace);
    res.json({ items: models.map(presentModel).sort((a, b) => a.name.localeCompare(b.name)) });
  });

  const pass: RequestHandler = (_req, _res, next) => next();
  router.post("/v1/models", requireKey(deps.auth, "models:write"), deps.beforeAdd ?? pass, async (req, res) => {
    if (!req.is("multipart/form-data")) throw new UnsupportedMediaTypeError("send the model as multipart/form-data: fields name, task, contract, and a `file` part (ONNX) or `model.json` and its shards (TF.js)");
    // Told by Content-Length, before reading.
    if (Number(req.headers["content-length"]) > deps.maxUploadBytes + MULTIPART_OVERHEAD) throw new UploadTooLargeError(deps.maxUploadBytes);
    const dir = await mkdtemp(join(deps.tmpDir ?? tmpdir(), "pixelmill-model-"));
    let added: ImageModel;
    try {
      const parts = await receiveModelParts(req, { dir, maxBytes: deps.maxUploadBytes });
      const model = parseModelForm(parts.fields);
      added = await deps.add.add(principalOf(res), model, await onnxFileOf(parts, dir));
    } finally {
      // Before answering, whatever the answer: nothing of the request is left once it has one.
      await rm(dir, { recursive: true, force: true });
    }
    res.status(201).json(presentModel(added));
  });
  return router;
}

/** Never a source URI: a platform model's bucket and path are not the tenants' business; its sha256 identifies the file. */
function presentModel({ metadata, spec }: ImageModel): ModelView {
  return {
    name: metadata.name ?? "",
    task: spec.task,
    license: spec.license ?? null,
    origin: spec.origin ?? null,
    sha256: spec.source.sha256 ?? null,
    input: spec.input ? presentInput(spec.input) : null,
    output: spec.output ?? null,
    components: Object.fromEntries(Object.entries(spec.components ?? {}).map(([name, file]) => [name, file.sha256 ?? null])),
    params: spec.params ?? [],
  };
}

function presentInput({ colorOrder, sizeMultiple, maxPixels, ...same }: ModelInput): ModelView["input"] {
  return { ...same, color_order: colorOrder, size_multiple: sizeMultiple, max_pixels: maxPixels };
}
