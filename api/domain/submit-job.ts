import { API_VERSION, IMAGEJOB_KIND, type ImageJob, type OutputFormat } from "../../common/crd-types.js";
import type { Logger } from "../../common/logger.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { UnknownModelError } from "./errors.js";
import { toJobRecord, type JobRecord } from "./job-record.js";
import type { Cluster, JobRepository } from "./ports.js";

export interface JobRequest {
  model: string;
  input: { uri: string };
  params?: Record<string, unknown>;
  output?: { format?: OutputFormat; quality?: number };
}

export interface SubmitJobDeps {
  cluster: Cluster;
  jobs: JobRepository;
  store: ObjectStore;
  /** PIXELMILL_NAMESPACE */
  namespace: string;
  log: Logger;
}

/**
 * Submitting a job: the model must exist, the ImageJob is created (the operator takes it from
 * there), and its row is written at once so that a GET right after the answer finds it.
 */
export class SubmitJob {
  constructor(private readonly deps: SubmitJobDeps) {}

  /** `uploadKey`: the object the request uploaded, removed when no ImageJob comes of it. */
  async submit(request: JobRequest, uploadKey?: string): Promise<JobRecord> {
    let created: ImageJob;
    try {
      if (!(await this.deps.cluster.getModel(request.model))) throw new UnknownModelError(request.model);
      created = await this.deps.cluster.createJob(this.manifest(request));
    } catch (err) {
      if (uploadKey !== undefined) await this.discard(uploadKey);
      throw err;
    }
    const record = toJobRecord(created);
    this.deps.log.info({ job: record.uid, name: record.name, model: record.model }, "Job submitted");
    // The ImageJob exists now: failing the request would invite a retry and a second job. The
    // mirror writes the row when it sees the ImageJob, so a failure here costs only a moment.
    await this.deps.jobs.upsert(record).catch((err: unknown) => {
      this.deps.log.warn({ job: record.uid, err }, "Could not record the new job; the mirror will");
    });
    return record;
  }

  private manifest(request: JobRequest): ImageJob {
    return {
      apiVersion: API_VERSION,
      kind: IMAGEJOB_KIND,
      metadata: {
        generateName: "job-",
        namespace: this.deps.namespace,
        labels: { "pixelmill.io/model": request.model, "app.kubernetes.io/managed-by": "pixelmill-api" },
      },
      spec: {
        model: request.model,
        input: request.input,
        ...(request.params ? { params: request.params } : {}),
        ...(request.output ? { output: request.output } : {}),
      },
    };
  }

  private async discard(key: string): Promise<void> {
    await this.deps.store.delete(key).catch((err: unknown) => {
      this.deps.log.error({ key, err }, "Could not delete an unused upload");
    });
  }
}
