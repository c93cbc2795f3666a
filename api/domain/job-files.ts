import type { Readable } from "node:stream";
import { IMAGE_TYPES } from "../../common/image-sniff.js";
import { parseInputUri } from "../../common/job/input-uri.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { NotFoundError, OutputExpiredError, OutputNotReadyError } from "./errors.js";
import { stem } from "./input-filename.js";
import type { JobQueries } from "./job-queries.js";
import type { JobRecord } from "./job-record.js";
import type { Principal } from "./principal.js";

/** A job's file, ready to send: its bytes, type and the name a download is saved under. */
export interface JobFile {
  body: Readable;
  bytes: number;
  contentType: string;
  filename: string;
}

const EXTENSIONS: Record<string, string> = {
  ...Object.fromEntries(IMAGE_TYPES.map((t) => [t.contentType, t.ext])),
  "application/json": "json",
  "application/x-ndjson": "ndjson",
};

/**
 * The bytes of a job's output and of its uploaded input (GET /v1/jobs/:id/output and /input),
 * read from the platform's store through the caller's own job: another tenant's is not found.
 */
export class JobFiles {
  constructor(private readonly deps: { queries: JobQueries; store: ObjectStore }) {}

  /** OutputNotReadyError before the job succeeded (and for a batch), OutputExpiredError once retention deleted it. */
  async output(principal: Principal, id: string): Promise<JobFile> {
    const r = await this.deps.queries.record(principal, id);
    if (r.batch) throw new OutputNotReadyError(r.uid, r.phase, `job ${r.uid} is a batch: each item has an output (GET /v1/jobs/${r.uid}/items), and the batch its manifest`);
    if (r.phase !== "Succeeded" || !r.output?.uri) throw new OutputNotReadyError(r.uid, r.phase);
    if (r.outputExpiredAt) throw new OutputExpiredError(r.uid, r.outputExpiredAt);
    const key = this.deps.store.keyOf(r.output.uri);
    if (key === undefined) throw new NotFoundError(`job ${r.uid}'s output is not in the platform's storage`);
    const file = await this.deps.store.get(key);
    const contentType = r.output.contentType ?? file.contentType ?? "application/octet-stream";
    const ext = EXTENSIONS[contentType] ?? extensionOf(key) ?? "bin";
    return { body: file.body, bytes: file.bytes, contentType, filename: `${r.inputFilename ? stem(r.inputFilename) : r.uid}.${ext}` };
  }

  /** The job's upload; NotFoundError when its input is not one (an https:// or s3:// input, a prompt, a batch). */
  async input(principal: Principal, id: string): Promise<JobFile> {
    const r = await this.deps.queries.record(principal, id);
    const key = uploadKey(r);
    if (key === undefined) throw new NotFoundError(`job ${r.uid}'s input is not an upload held by the platform`);
    if (r.outputExpiredAt) throw new OutputExpiredError(r.uid, r.outputExpiredAt);
    const file = await this.deps.store.get(key);
    const ext = extensionOf(key);
    const contentType = file.contentType ?? IMAGE_TYPES.find((t) => t.ext === ext)?.contentType ?? "application/octet-stream";
    return { body: file.body, bytes: file.bytes, contentType, filename: r.inputFilename ?? `${r.uid}.${ext ?? "bin"}` };
  }
}

/** The store key of the job's `upload:` input; undefined for any other input. */
function uploadKey(r: JobRecord): string | undefined {
  if (r.inputUri === null || r.batch) return undefined;
  const parsed = parseInputUri(r.inputUri);
  return "scheme" in parsed && parsed.scheme === "upload" ? parsed.key : undefined;
}

function extensionOf(key: string): string | undefined {
  const m = /\.([a-z0-9]{1,8})$/i.exec(key);
  return m ? m[1]!.toLowerCase() : undefined;
}
