import { API_VERSION, IMAGEJOB_KIND, type ImageJob, type ImageJobBatchSpec, type ImageModel, type OutputFormat } from "../../common/crd-types.js";
import { JobFailure } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { PUBLIC_ONLY, refuseUrlHost } from "../../common/address-policy.js";
import { refuseInput, storeRoot } from "../../common/job/input-access.js";
import { refuseBucket } from "../../common/job/input-grants.js";
import { allowedInputBuckets, parseInputUri } from "../../common/job/input-uri.js";
import { inputMismatch } from "../../common/job/model-input.js";
import { resolveParams } from "../../common/model-params.js";
import { InvalidJobError, UnknownModelError } from "./errors.js";
import { missingUpload } from "./direct-upload.js";
import { batchItemCount, checkBatchInputs } from "./batch-inputs.js";
import { toJobRecord, type JobRecord } from "./job-record.js";
import type { Cluster, JobRepository, UploadFilenameRepository } from "./ports.js";
import type { Principal } from "./principal.js";
import type { TenantCaps } from "./limits.js";
import { REQUEST_ID_ANNOTATION } from "../../common/request-id.js";
import { INPUT_FILENAME_ANNOTATION } from "./input-filename.js";
import type { WebhookEvent } from "../../common/job/webhook-events.js";

export interface JobRequest {
  model: string;
  /** Absent for a text-to-image model (common/job/model-input.ts). */
  input?: { uri: string };
  /** Many inputs instead of `input` (spec.batch, docs/batch.md): a list, or a prefix with a glob. */
  batch?: ImageJobBatchSpec;
  params?: Record<string, unknown>;
  output?: { format?: OutputFormat; quality?: number };
  /** Run-time limit of one attempt (spec.timeoutSeconds). */
  timeoutSeconds?: number;
  /** A job not started this long after creation fails with DeadlineExceeded (spec.startDeadlineSeconds). */
  startDeadlineSeconds?: number;
  /** false: run the model even when an equal earlier job's output could be reused (spec.cache, ADR 0015). */
  cache?: boolean;
  /** Where the job's events are POSTed, and which (spec.webhook; docs/webhooks.md). */
  webhook?: { url: string; events?: WebhookEvent[] };
  /** The uploaded file's name, sanitized (input-filename.ts); kept as an annotation, not in the spec. */
  inputFilename?: string;
}

export interface SubmitJobDeps {
  cluster: Cluster;
  jobs: JobRepository;
  store: ObjectStore;
  log: Logger;
  /** INPUT_BUCKETS: buckets `s3://` inputs may name; when absent, only the store's bucket. */
  inputBuckets?: readonly string[];
  /** The tenant caps (ADR 0009); none: unlimited. */
  caps?: TenantCaps;
  /**
   * Why a webhook URL is refused, by the sender's own rules after DNS (api/outbox/webhook-post.ts);
   * none: webhooks are off (no WEBHOOK_SECRETS_KEY) and a job with one is refused.
   */
  refuseWebhook?: (url: string) => Promise<string | undefined>;
  /** The filenames given to POST /v1/uploads: a job naming such an upload takes its name; none: unknown. */
  uploadFilenames?: UploadFilenameRepository;
}

/**
 * Submitting a job: the model must exist, the ImageJob is created (the operator takes it from
 * there), and its row is written at once so that a GET right after the answer finds it.
 */
export class SubmitJob {
  private readonly inputBuckets: ReadonlySet<string>;
  private readonly storeRoot: string | undefined;

  constructor(private readonly deps: SubmitJobDeps) {
    this.inputBuckets = allowedInputBuckets(deps.inputBuckets, deps.store);
    this.storeRoot = storeRoot(deps.store);
  }

  /**
   * `uploadKey`: the object the request uploaded, removed when no ImageJob comes of it.
   * `requestId`: the API request's id, stamped on the ImageJob (REQUEST_ID_ANNOTATION) for the operator's and workers' logs.
   */
  async submit(principal: Principal, request: JobRequest, uploadKey?: string, requestId?: string): Promise<JobRecord> {
    const { namespace } = principal;
    let created: ImageJob;
    try {
      const model = await this.deps.cluster.getModel(namespace, request.model);
      if (!model) throw new UnknownModelError(request.model);
      await this.check(namespace, request, model, uploadKey);
      // A batch counts its items against the tenant's active jobs (a prefix not yet listed: 1, docs/batch.md).
      await this.deps.caps?.checkActiveJobs(principal, request.batch ? batchItemCount(request.batch) : 1);
      created = await this.deps.cluster.createJob(this.manifest(namespace, await this.named(namespace, request), requestId));
    } catch (err) {
      if (uploadKey !== undefined) await this.discard(uploadKey);
      throw err;
    }
    const record = toJobRecord(created);
    this.deps.log.info({ jobUid: record.uid, requestId, name: record.name, model: record.model, tenant: principal.tenantName }, "Job submitted");
    // The ImageJob exists now: failing the request would invite a retry and a second job. The
    // mirror writes the row when it sees the ImageJob, so a failure here costs only a moment.
    await this.deps.jobs.upsert(record).catch((err: unknown) => {
      this.deps.log.warn({ jobUid: record.uid, requestId, err }, "Could not record the new job; the mirror will");
    });
    return record;
  }

  /**
   * What the worker would refuse without retrying, refused now: an input image where the model
   * takes none (or none where it needs one), params checked by the worker's own validator against
   * the model's declarations, an input in the platform's store that is not this namespace's upload or output, the input's bucket (in INPUT_BUCKETS and granted to the
   * namespace, common/job/input-grants.ts), and an https:// host given
   * as a non-public IP address (names are resolved and checked by the worker, which connects).
   * A malformed URI is left to the apiserver, whose CRD rules say what is wrong with it.
   */
  private async check(namespace: string, request: JobRequest, model: ImageModel, uploadKey?: string): Promise<void> {
    try {
      resolveParams(model.spec.params, request.params);
    } catch (err) {
      if (err instanceof JobFailure) throw new InvalidJobError(err.message);
      throw err;
    }
    const mismatch = inputMismatch(request.model, model.spec, request.input !== undefined || request.batch !== undefined);
    if (mismatch) throw new InvalidJobError(mismatch);
    if (request.webhook) await this.checkWebhook(request.webhook.url);
    if (request.batch) {
      const { cluster } = this.deps;
      await checkBatchInputs(request.batch, { namespace, root: this.storeRoot, allowed: this.inputBuckets, granted: () => cluster.grantedInputBuckets(namespace) });
      return;
    }
    if (!request.input) return;
    const input = parseInputUri(request.input.uri);
    // Before the malformed URI is left to the apiserver: an IPv6 zone id (https://[fe80::1%25eth0]/) is malformed only to WHATWG URL.
    const forbidden = refuseUrlHost(PUBLIC_ONLY, request.input.uri);
    if (forbidden) throw new InvalidJobError(forbidden);
    if ("problem" in input) return;
    const refused = refuseInput(input, namespace, this.storeRoot);
    if (refused) throw new InvalidJobError(refused);
    // A direct upload (POST /v1/uploads) named before its file was sent: 422 now, not InputNotFound later.
    const missing = input.scheme === "upload" && input.key !== uploadKey ? await missingUpload(this.deps.store, input.key) : undefined;
    if (missing) throw new InvalidJobError(missing);
    if (input.scheme !== "s3") return;
    // INPUT_BUCKETS first: a bucket it refuses costs no apiserver read.
    const rule = { allowed: this.inputBuckets, root: this.storeRoot };
    const unlisted = refuseBucket(input, namespace, { ...rule, granted: undefined });
    if (unlisted) throw new InvalidJobError(unlisted);
    const ungranted = refuseBucket(input, namespace, { ...rule, granted: await this.deps.cluster.grantedInputBuckets(namespace) });
    if (ungranted) throw new InvalidJobError(ungranted);
  }

  /**
   * The request with the name kept for its upload: input (given to POST /v1/uploads, or by the
   * multipart submit that stored it), when it has none; a failed read only loses the name.
   */
  private async named(namespace: string, request: JobRequest): Promise<JobRequest> {
    const names = this.deps.uploadFilenames;
    if (!names || request.inputFilename || !request.input?.uri.startsWith("upload:")) return request;
    try {
      const inputFilename = await names.nameOf(namespace, request.input.uri.slice("upload:".length));
      return inputFilename ? { ...request, inputFilename } : request;
    } catch (err) {
      this.deps.log.warn({ err }, "Could not read an upload's filename; the job goes without it");
      return request;
    }
  }

  /** The sender's rules, after DNS, so a job whose events could never be sent is refused now (the sender checks again). */
  private async checkWebhook(url: string): Promise<void> {
    const refuse = this.deps.refuseWebhook;
    if (!refuse) throw new InvalidJobError("webhooks are not enabled on this platform (WEBHOOK_SECRETS_KEY is not set)");
    const refused = await refuse(url);
    if (refused) throw new InvalidJobError(`webhook: ${refused}`);
  }

  private manifest(namespace: string, request: JobRequest, requestId: string | undefined): ImageJob {
    return {
      apiVersion: API_VERSION,
      kind: IMAGEJOB_KIND,
      metadata: {
        generateName: "job-",
        namespace,
        labels: { "pixelmill.io/model": request.model, "app.kubernetes.io/managed-by": "pixelmill-api" },
        ...annotations(request, requestId),
      },
      spec: {
        model: request.model,
        ...(request.input ? { input: request.input } : {}),
        ...(request.batch ? { batch: request.batch } : {}),
        ...(request.params ? { params: request.params } : {}),
        ...(request.output ? { output: request.output } : {}),
        ...(request.timeoutSeconds ? { timeoutSeconds: request.timeoutSeconds } : {}),
        ...(request.startDeadlineSeconds ? { startDeadlineSeconds: request.startDeadlineSeconds } : {}),
        ...(request.cache === false ? { cache: false } : {}),
        ...(request.webhook ? { webhook: request.webhook } : {}),
      },
    };
  }

  private async discard(key: string): Promise<void> {
    await this.deps.store.delete(key).catch((err: unknown) => {
      this.deps.log.error({ key, err }, "Could not delete an unused upload");
    });
  }
}

/** The request id and the input's file name (a single job's only), as the ImageJob's annotations; {} when neither. */
function annotations(request: JobRequest, requestId: string | undefined): { annotations?: Record<string, string> } {
  const found: Record<string, string> = {
    ...(requestId ? { [REQUEST_ID_ANNOTATION]: requestId } : {}),
    ...(request.inputFilename && !request.batch ? { [INPUT_FILENAME_ANNOTATION]: request.inputFilename } : {}),
  };
  return Object.keys(found).length ? { annotations: found } : {};
}
