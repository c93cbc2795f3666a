import { createHash, type Hash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import express, { Router, type Request, type RequestHandler, type Response } from "express";
import { z } from "zod";
import { IMAGEJOB_PHASES, phaseNamed } from "../../../common/job/phases.js";
import type { Logger } from "../../../common/logger.js";
import type { ObjectStore } from "../../../common/storage/index.js";
import type { CancelJob } from "../../domain/cancel-job.js";
import { InvalidRequestError, UploadTooLargeError } from "../../domain/errors.js";
import type { IdempotentSubmit } from "../../domain/idempotent-submit.js";
import type { JobQueries } from "../../domain/job-queries.js";
import type { JobRecord } from "../../domain/job-record.js";
import { requestHash } from "../../domain/request-hash.js";
import type { JobRequest, SubmitJob } from "../../domain/submit-job.js";
import { storeUpload } from "../../domain/upload.js";
import { sanitizeFilename } from "../../domain/input-filename.js";
import type { Authenticate } from "../../domain/authenticate.js";
import type { Principal } from "../../domain/principal.js";
import type { TenantCaps } from "../../domain/limits.js";
import { principalOf, requireKey } from "../auth.js";
import { UnsupportedMediaTypeError } from "../http-errors.js";
import { checkIdempotencyKey } from "../idempotency-key.js";
import type { JobPresenter } from "../job-presenter.js";
import { modelName, parseFormJob, parseJsonJob } from "../job-request.js";
import { receiveMultipart, type FormFile } from "../multipart.js";
import type { UploadFilenameRepository } from "../../domain/ports.js";
import { requestIdOf } from "../request-id.js";

export interface JobRoutesDeps {
  submit: SubmitJob;
  idempotent: IdempotentSubmit;
  cancel: CancelJob;
  queries: JobQueries;
  presenter: JobPresenter;
  store: ObjectStore;
  auth: Authenticate;
  /** Runs after the key is checked and before the body is read (the 503 of a dependency down). */
  beforeSubmit?: RequestHandler;
  maxUploadBytes: number;
  log: Logger;
  /** The tenant caps (ADR 0009): an upload over the day's bytes is refused and deleted. */
  caps?: TenantCaps;
  /** Where a multipart submit keeps its files' names (rememberNames); none: they are dropped. */
  uploadFilenames?: Pick<UploadFilenameRepository, "remember">;
}

const STATUSES = IMAGEJOB_PHASES.map((p) => p.toLowerCase()) as [string, ...string[]];

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  // decodeCursor checks it (base64url of a timestamp and a UUID) before any query.
  cursor: z.string().min(1).max(512).optional(),
  status: z.enum(STATUSES).optional(),
  // A model's name, as a job names it: anything else (a NUL byte, say) never reaches Postgres.
  model: modelName.min(1).optional(),
  created_after: z.iso.datetime({ offset: true }).transform((t) => new Date(t)).optional().describe("only jobs created at or after this instant (RFC 3339)"),
  created_before: z.iso.datetime({ offset: true }).transform((t) => new Date(t)).optional().describe("only jobs created before this instant (RFC 3339)"),
});

/** Room for the multipart framing and the small fields around the file. */
const MULTIPART_OVERHEAD = 1024 * 1024;
/** The most images one multipart submit carries (two or more make a batch); more go as uploads named by a JSON batch. */
export const MAX_FORM_IMAGES = 100;

export function jobRoutes(deps: JobRoutesDeps): Router {
  const router = Router();

  const write = requireKey(deps.auth, "jobs:write");
  const read = requireKey(deps.auth, "jobs:read");
  const pass: RequestHandler = (_req, _res, next) => next();

  // 2 MB: room for a batch's list of inputs (at most MAX_BATCH_INPUTS_BYTES, job-request.ts) with the rest of the job.
  router.post("/v1/jobs", write, deps.beforeSubmit ?? pass, express.json({ limit: "2mb" }), async (req, res) => {
    const principal = principalOf(res);
    const header = req.get("idempotency-key");
    const key = header === undefined ? undefined : checkIdempotencyKey(header);
    let record: JobRecord;
    let replayed: boolean;
    const requestId = requestIdOf(res);
    if (req.is("multipart/form-data")) ({ record, replayed } = await submitMultipart(req, deps, principal, key, requestId));
    else if (req.is("application/json")) ({ record, replayed } = await submitRequest(deps, principal, parseJsonJob(req.body), key, requestId));
    else throw new UnsupportedMediaTypeError("send the job as multipart/form-data (with an image) or application/json");
    // A replay answers as the first request did (202, same Location), with the job as it is now.
    if (replayed) res.setHeader("Idempotent-Replayed", "true");
    res.status(202).location(`/v1/jobs/${record.uid}`).json(deps.presenter.summary(record));
  });

  router.get("/v1/jobs", read, async (req, res) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message }));
      throw new InvalidRequestError("the query parameters are not valid", issues);
    }
    const { limit, cursor, status, model, created_after: createdFrom, created_before: createdBefore } = parsed.data;
    const phase = status === undefined ? undefined : phaseNamed(status);
    res.json(await deps.presenter.page(await deps.queries.list(principalOf(res), { limit, cursor, phase, model, createdFrom, createdBefore })));
  });

  router.get("/v1/jobs/:id", read, async (req, res) => {
    res.json(await deps.presenter.view(await deps.queries.record(principalOf(res), String(req.params.id))));
  });

  // Cancel: 202 when this request canceled the job, 200 when it was canceled already.
  router.delete("/v1/jobs/:id", write, async (req, res: Response) => {
    const { record, canceledNow } = await deps.cancel.cancel(principalOf(res), String(req.params.id));
    res.status(canceledNow ? 202 : 200).json(await deps.presenter.view(record));
  });

  return router;
}

interface Submitted {
  record: JobRecord;
  replayed: boolean;
}

/** `hashed`: the request as its Idempotency-Key hash sees it (a multipart batch: its files' sha256s for its inputs). */
async function submitRequest(
  deps: JobRoutesDeps, principal: Principal, request: JobRequest, key: string | undefined, requestId: string | undefined, upload?: { key: string; sha256: string },
  hashed: JobRequest = request,
): Promise<Submitted> {
  if (key === undefined) return { record: await deps.submit.submit(principal, request, upload?.key, requestId), replayed: false };
  return deps.idempotent.submit(principal, key, request, requestHash(hashed, upload?.sha256), upload?.key, requestId);
}

function discardUpload(deps: JobRoutesDeps, key: string): Promise<void> {
  return deps.store.delete(key).catch((err: unknown) => deps.log.error({ key, err }, "Could not delete an unused upload"));
}

/** Passes the upload through unchanged, feeding its bytes to `digest` on the way. */
function hashing(file: Readable, digest: Hash): Readable {
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      digest.update(chunk);
      done(null, chunk);
    },
  });
  file.on("error", (err) => tap.destroy(err));
  return file.pipe(tap);
}

/**
 * Keeps a multipart submit's file names by upload, for a batch's items and for later jobs naming
 * the same upload (the console's Run again); one that cannot be kept is only logged.
 */
async function rememberNames(deps: JobRoutesDeps, namespace: string, files: readonly FormFile[]): Promise<void> {
  const names = deps.uploadFilenames;
  if (!names) return;
  await Promise.all(files.map(async ({ upload, filename }) => {
    const name = sanitizeFilename(filename);
    if (name) await names.remember({ key: upload.key, namespace, filename: name }).catch((err: unknown) => deps.log.warn({ err, key: upload.key }, "Could not keep an upload's filename"));
  }));
}

/**
 * A multipart submit: one `image` is one job; two or more (up to MAX_FORM_IMAGES) are one batch
 * job over their uploads, in the order sent. Each file is stored and checked as it arrives, and
 * every upload is removed again when no job comes of the request.
 */
async function submitMultipart(req: Request, deps: JobRoutesDeps, principal: Principal, key: string | undefined, requestId: string | undefined): Promise<Submitted> {
  const length = Number(req.headers["content-length"]);
  // Told by Content-Length, before reading: each file is bounded again as it is stored.
  if (length > MAX_FORM_IMAGES * deps.maxUploadBytes + MULTIPART_OVERHEAD) throw new UploadTooLargeError(deps.maxUploadBytes);
  const { caps } = deps;
  // A tenant at its day's bytes already is refused before the body is read.
  await caps?.checkUploadRoom(principal);
  const admit = caps && ((bytes: number) => caps.recordUpload(principal, bytes));
  const discard = (uploadKey: string) => discardUpload(deps, uploadKey);
  const digests: Hash[] = [];
  const form = await receiveMultipart(req, {
    fileField: "image",
    maxFiles: MAX_FORM_IMAGES,
    upload: (file) => {
      const digest = createHash("sha256");
      digests.push(digest);
      return storeUpload(hashing(file, digest), { store: deps.store, namespace: principal.namespace, maxBytes: deps.maxUploadBytes, log: deps.log, admit });
    },
    discard,
  });
  const keys = form.files.map((f) => f.upload.key);
  const [first] = form.files;
  if (!first) throw new InvalidRequestError("the form has no image file field");
  let request: JobRequest;
  try {
    if (form.files.length === 1) {
      const inputFilename = sanitizeFilename(first.filename);
      request = { ...parseFormJob(form.fields, { uri: `upload:${first.upload.key}` }), ...(inputFilename ? { inputFilename } : {}) };
    } else {
      request = parseFormJob(form.fields, { batch: keys.map((k) => `upload:${k}`) });
    }
  } catch (err) {
    await Promise.all(keys.map(discard));
    throw err;
  }
  const shas = digests.map((d) => d.digest("hex"));
  let submitted: Submitted;
  if (form.files.length === 1) {
    submitted = await submitRequest(deps, principal, request, key, requestId, { key: first.upload.key, sha256: shas[0]! });
  } else {
    // A batch's uploads: SubmitJob and IdempotentSubmit own one upload each, so this request removes them itself.
    try {
      submitted = await submitRequest(deps, principal, request, key, requestId, undefined, { ...request, batch: { ...request.batch, inputs: shas } });
    } catch (err) {
      await Promise.all(keys.map(discard));
      throw err;
    }
    if (submitted.replayed) await Promise.all(keys.map(discard));
  }
  if (!submitted.replayed) await rememberNames(deps, principal.namespace, form.files);
  return submitted;
}
