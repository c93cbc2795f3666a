import express, { Router, type Request } from "express";
import { z } from "zod";
import type { ImageJobPhase } from "../../../common/crd-types.js";
import type { Logger } from "../../../common/logger.js";
import type { ObjectStore } from "../../../common/storage/index.js";
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../../domain/errors.js";
import type { JobQueries } from "../../domain/job-queries.js";
import type { JobPresenter } from "../../domain/job-view.js";
import type { JobRecord } from "../../domain/job-record.js";
import type { JobRequest, SubmitJob } from "../../domain/submit-job.js";
import { storeUpload } from "../../domain/upload.js";
import { parseFormJob, parseJsonJob } from "../job-request.js";
import { receiveMultipart } from "../multipart.js";

export interface JobRoutesDeps {
  submit: SubmitJob;
  queries: JobQueries;
  presenter: JobPresenter;
  store: ObjectStore;
  namespace: string;
  maxUploadBytes: number;
  log: Logger;
}

const PHASES = ["Pending", "Queued", "Running", "Succeeded", "Failed", "Canceled"] as const satisfies readonly ImageJobPhase[];
const STATUSES = PHASES.map((p) => p.toLowerCase()) as [string, ...string[]];

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
  status: z.enum(STATUSES).optional(),
  model: z.string().min(1).max(63).optional(),
});

/** Room for the multipart framing and the small fields around the file. */
const MULTIPART_OVERHEAD = 1024 * 1024;

export function jobRoutes(deps: JobRoutesDeps): Router {
  const router = Router();

  router.post("/v1/jobs", express.json({ limit: "256kb" }), async (req, res) => {
    let record: JobRecord;
    if (req.is("multipart/form-data")) record = await submitMultipart(req, deps);
    else if (req.is("application/json")) record = await deps.submit.submit(parseJsonJob(req.body));
    else throw new UnsupportedMediaTypeError("send the job as multipart/form-data (with an image) or application/json");
    res.status(202).location(`/v1/jobs/${record.uid}`).json(deps.presenter.summary(record));
  });

  router.get("/v1/jobs", async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
      throw new InvalidRequestError("the query parameters are not valid", issues);
    }
    const { limit, cursor, status, model } = parsed.data;
    const phase = PHASES.find((p) => p.toLowerCase() === status);
    res.json(await deps.queries.list({ limit, cursor, phase, model }));
  });

  router.get("/v1/jobs/:id", async (req, res) => {
    res.json(await deps.queries.get(req.params.id));
  });

  return router;
}

async function submitMultipart(req: Request, deps: JobRoutesDeps): Promise<JobRecord> {
  const length = Number(req.headers["content-length"]);
  if (length > deps.maxUploadBytes + MULTIPART_OVERHEAD) throw new PayloadTooLargeError(deps.maxUploadBytes);
  const discard = (key: string) => deps.store.delete(key).catch((err: unknown) => deps.log.error({ key, err }, "Could not delete an unused upload"));
  const form = await receiveMultipart(req, {
    fileField: "image",
    upload: (file) => storeUpload(file, { store: deps.store, namespace: deps.namespace, maxBytes: deps.maxUploadBytes, log: deps.log }),
    discard,
  });
  if (!form.upload) throw new InvalidRequestError("the form has no image file field");
  let request: JobRequest;
  try {
    request = parseFormJob(form.fields, `upload:${form.upload.key}`);
  } catch (err) {
    await discard(form.upload.key);
    throw err;
  }
  return deps.submit.submit(request, form.upload.key);
}
