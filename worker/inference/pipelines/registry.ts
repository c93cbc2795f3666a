import { JobFailure } from "../../../common/errors.js";
import { ocr } from "./ocr.js";
import type { Pipeline } from "./pipeline.js";
import { singlePass } from "./single-pass.js";

/** The pipelines of one engine, by the task each runs. */
export class PipelineRegistry {
  private readonly byTask = new Map<string, Pipeline>();

  /** Throws when two pipelines claim one task: a programming error, found at boot. */
  constructor(pipelines: readonly Pipeline[]) {
    for (const pipeline of pipelines) {
      for (const task of pipeline.tasks) {
        const other = this.byTask.get(task);
        if (other) throw new Error(`pipelines ${other.name} and ${pipeline.name} both claim task ${task}`);
        this.byTask.set(task, pipeline);
      }
    }
  }

  /** The tasks this registry runs. */
  get tasks(): string[] {
    return [...this.byTask.keys()];
  }

  /**
   * The pipeline of `task`. A task without one fails the job as ModelUnavailable: the
   * ImageModel is valid, but this worker cannot serve it (a newer worker may).
   */
  resolve(task: string): Pipeline {
    const pipeline = this.byTask.get(task);
    if (pipeline) return pipeline;
    throw new JobFailure("ModelUnavailable", `this worker has no pipeline for task ${task} (it runs ${this.tasks.join(", ") || "none"})`);
  }
}

/** What the worker runs today. */
export function defaultPipelines(): PipelineRegistry {
  return new PipelineRegistry([singlePass, ocr]);
}
