import { PixelmillError } from "../../../common/errors.js";

/**
 * A diffusion export whose files cannot work here: a scheduler_config.json with values this
 * worker does not implement, a tokenizer file that is not what its name says. The model, not
 * the job, is at fault; the pipeline reports it as the model's failure.
 */
export class DiffusionModelError extends PixelmillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DiffusionModelError", message, options);
  }
}

/** Job params a scheduler cannot honour (steps, strength); the pipeline reports them as invalid params. */
export class DiffusionParamsError extends PixelmillError {
  constructor(message: string) {
    super("DiffusionParamsError", message);
  }
}
