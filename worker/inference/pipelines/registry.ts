import type { ImageModelSpec } from "../../../common/crd-types.js";
import { JobFailure } from "../../../common/errors.js";
import { isExportFolder } from "../../../common/model-export.js";
import { diffusion } from "./diffusion.js";
import { ocr } from "./ocr.js";
import type { Pipeline, SourceForm } from "./pipeline.js";
import { singlePass } from "./single-pass.js";

/**
 * The pipelines of one engine, by the task each runs and the form of model it runs it from: one
 * graph file (and named components), or an export folder (common/model-export.ts). So an
 * image-to-image model of one graph runs single-pass, and one that is a diffusion export runs
 * diffusion.
 */
export class PipelineRegistry {
  private readonly byKey = new Map<string, Pipeline>();

  /** Throws when two pipelines claim one task and form: a programming error, found at boot. */
  constructor(pipelines: readonly Pipeline[]) {
    for (const pipeline of pipelines) {
      for (const task of pipeline.tasks) {
        const key = keyOf(task, pipeline.form ?? "graph");
        const other = this.byKey.get(key);
        if (other) throw new Error(`pipelines ${other.name} and ${pipeline.name} both claim task ${key}`);
        this.byKey.set(key, pipeline);
      }
    }
  }

  /** The tasks this registry runs, with the form of model where it is an export folder. */
  get tasks(): string[] {
    return [...this.byKey.keys()];
  }

  /**
   * The pipeline of the spec's task and form. None fails the job as ModelUnavailable: the
   * ImageModel is valid, but this worker cannot serve it (a newer worker may).
   */
  resolve(spec: Pick<ImageModelSpec, "task" | "source">): Pipeline {
    const key = keyOf(spec.task, isExportFolder(spec) ? "export" : "graph");
    const pipeline = this.byKey.get(key);
    if (pipeline) return pipeline;
    throw new JobFailure("ModelUnavailable", `this worker has no pipeline for task ${key} (it runs ${this.tasks.join(", ") || "none"})`);
  }
}

function keyOf(task: string, form: SourceForm): string {
  return form === "export" ? `${task} from an export folder` : task;
}

/** What the worker runs today. */
export function defaultPipelines(): PipelineRegistry {
  return new PipelineRegistry([singlePass, ocr, diffusion]);
}
