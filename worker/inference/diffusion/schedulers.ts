import type { SamplerName } from "../../../common/diffusion-samplers.js";
import { DiffusionParamsError } from "./errors.js";
import { DpmSolverScheduler } from "./dpm-solver.js";
import { EulerScheduler } from "./euler.js";
import { LcmScheduler } from "./lcm.js";
import type { NoiseRng } from "./rng.js";
import { mustBeOff, type SchedulerConfig } from "./scheduler-config.js";

/**
 * The samplers a diffusion job can ask for (their names are in common/, where a model's
 * declaration reads them too). The model's scheduler_config.json supplies the noise schedule
 * (betas, train steps, spacing, prediction type), whatever scheduler class wrote it, as
 * diffusers' `Scheduler.from_config(pipe.scheduler.config)` does.
 */
export { SAMPLERS, type SamplerName } from "../../../common/diffusion-samplers.js";

export interface ScheduleOptions {
  /** Denoising steps of the full schedule. */
  steps: number;
  /** Image-to-image: the share of the schedule to run, (0, 1]; the input is noised to its first step. 1 by default. */
  strength?: number;
}

/**
 * One job's sampling loop, step by step. Index `i` counts the steps this run makes (0 first);
 * `step` must be called for i = 0, 1, 2... in order, since multistep samplers remember the
 * previous steps. Latents are flat float32 NCHW arrays; every operation is element-wise.
 */
export interface Scheduler {
  readonly sampler: SamplerName;
  /** Text-to-image starts from standard normal noise times this. */
  readonly initNoiseSigma: number;
  /** The UNet's timestep for each step this run makes. */
  timesteps(): number[];
  /**
   * The input the UNet gets at step i, always a new array (the latents' values where the sampler
   * needs no scaling): a feed of 64 KiB or more is moved to the session's thread and emptied.
   */
  scaleModelInput(latents: Float32Array, i: number): Float32Array;
  /** The latents after step i, from the UNet's output at step i (after classifier-free guidance). */
  step(modelOutput: Float32Array, i: number, latents: Float32Array, rng: NoiseRng): Float32Array;
  /** Image-to-image: the image's latents noised to the level of the first step. */
  addNoise(latents: Float32Array, noise: Float32Array): Float32Array;
}

export function createScheduler(sampler: SamplerName, config: SchedulerConfig, opts: ScheduleOptions): Scheduler {
  const strength = opts.strength ?? 1;
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new DiffusionParamsError(`steps must be a whole number of at least 1, not ${opts.steps}`);
  if (!(strength > 0 && strength <= 1)) throw new DiffusionParamsError(`strength must be above 0 and at most 1, not ${strength}`);
  const trainSteps = config.num_train_timesteps ?? 1000;
  if (opts.steps > trainSteps) throw new DiffusionParamsError(`steps must be at most the model's ${trainSteps} train timesteps, not ${opts.steps}`);
  mustBeOff(config, ["thresholding"]);
  switch (sampler) {
    case "euler":
    case "euler-ancestral":
      return new EulerScheduler(sampler, config, opts.steps, strength);
    case "dpmpp-2m-karras":
      return new DpmSolverScheduler(config, opts.steps, strength);
    case "lcm":
      return new LcmScheduler(config, opts.steps, strength);
  }
}

