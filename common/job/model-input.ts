import type { ImageModelSpec } from "../crd-types.js";

/** Whether a model's jobs take an input image: every task does except text-to-image, which makes one from params alone. */
export function takesInputImage(spec: Pick<ImageModelSpec, "task">): boolean {
  return spec.task !== "text-to-image";
}

/**
 * Why a job with (or without) an input image cannot run on `model`, a sentence for the job's
 * failure or the API's 422; undefined when it suits. The API and the operator both ask.
 */
export function inputMismatch(model: string, spec: Pick<ImageModelSpec, "task">, hasInput: boolean): string | undefined {
  // Said to kubectl users (the ImageJob's status) and to API clients (422) alike: no field names of either.
  if (takesInputImage(spec) && !hasInput) return `model ${model} (task ${spec.task}) needs an input image`;
  if (!takesInputImage(spec) && hasInput) return `model ${model} (task ${spec.task}) makes an image from params alone and takes no input image`;
  return undefined;
}
