import { describe, expect, it } from "vitest";
import { JobFailure } from "../../../common/errors.js";
import type { ModelTask } from "../../../common/crd-types.js";
import { diffusion } from "./diffusion.js";
import { ocr } from "./ocr.js";
import { MAIN_SESSION, type Pipeline } from "./pipeline.js";
import { PipelineRegistry, defaultPipelines } from "./registry.js";
import { singlePass } from "./single-pass.js";

const fake = (name: string, tasks: Pipeline["tasks"]): Pipeline => ({
  name,
  tasks,
  sources: (spec) => ({ [MAIN_SESSION]: spec.source }),
  run: () => Promise.reject(new Error("not run here")),
});

const graphModel = (task: string) => ({ task: task as ModelTask, source: { uri: "builtin:grayscale" } });

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("it did not throw");
}

describe("PipelineRegistry", () => {
  it.each(["image-to-image", "image-to-mask"])("resolves %s of one graph to the single-pass pipeline", (task) => {
    expect(defaultPipelines().resolve(graphModel(task))).toBe(singlePass);
  });

  it("resolves image-to-text to the OCR pipeline", () => {
    expect(defaultPipelines().resolve(graphModel("image-to-text"))).toBe(ocr);
  });

  it.each(["text-to-image", "image-to-image"])("resolves %s from an export folder to the diffusion pipeline", (task) => {
    expect(defaultPipelines().resolve({ task: task as ModelTask, source: { uri: "s3://models/sdxl/" } })).toBe(diffusion);
  });

  it.each(["text-to-image", "no-such-task"])("fails %s of one graph as ModelUnavailable, naming the tasks it runs", (task) => {
    const err = caught(() => defaultPipelines().resolve(graphModel(task)));
    expect(err).toBeInstanceOf(JobFailure);
    expect(err).toMatchObject({
      reason: "ModelUnavailable",
      message: `this worker has no pipeline for task ${task} (it runs image-to-image, image-to-mask, image-to-text, text-to-image from an export folder, image-to-image from an export folder)`,
    });
  });

  it("routes each task to the pipeline that claims it", () => {
    const ocr = fake("ocr", ["image-to-text"]);
    const registry = new PipelineRegistry([singlePass, ocr]);
    expect(registry.resolve(graphModel("image-to-text"))).toBe(ocr);
    expect(registry.resolve(graphModel("image-to-mask"))).toBe(singlePass);
    expect(registry.tasks).toEqual(["image-to-image", "image-to-mask", "image-to-text"]);
  });

  it("refuses two pipelines for one task", () => {
    expect(() => new PipelineRegistry([singlePass, fake("other", ["image-to-mask"])]))
      .toThrow("pipelines single-pass and other both claim task image-to-mask");
  });

  it("says when it runs nothing", () => {
    expect(() => new PipelineRegistry([]).resolve(graphModel("image-to-image"))).toThrow(/no pipeline for task image-to-image \(it runs none\)/);
  });
});
