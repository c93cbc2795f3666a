import { DiffusionModelError, DiffusionParamsError } from "./errors.js";
import type { NoiseRng } from "./rng.js";
import { alphasCumprod, oneOf, type SchedulerConfig } from "./scheduler-config.js";
import { BaseScheduler, PREDICTIONS, type Prediction } from "./scheduler-base.js";
import type { Scheduler } from "./schedulers.js";

/**
 * Latent Consistency Models (Luo et al. 2023): each step predicts x̂₀, blends it with the input
 * by the consistency boundary scalings, and (but for the last) re-noises to the next timestep.
 * Timesteps come from the distillation schedule of original_inference_steps; image-to-image
 * shortens that schedule by strength, as diffusers' LCM pipelines do, and runs every step.
 */
export class LcmScheduler extends BaseScheduler implements Scheduler {
  readonly sampler = "lcm" as const;
  readonly initNoiseSigma = 1;
  private readonly acp: Float64Array;
  private readonly prediction: Prediction | "sample";
  private readonly scaling: number;
  private readonly clip: number | undefined;

  constructor(config: SchedulerConfig, steps: number, strength: number) {
    const acp = alphasCumprod(config, { betaStart: 0.00085, betaEnd: 0.012, schedule: "scaled_linear" });
    const original = config.original_inference_steps ?? 50;
    if (original > acp.length) throw new DiffusionModelError(`scheduler_config.json: original_inference_steps ${original} is more than the ${acp.length} train timesteps`);
    const stride = Math.floor(acp.length / original);
    const origin = Array.from({ length: Math.floor(original * strength) }, (_, i) => (i + 1) * stride - 1).reverse();
    if (steps > original || origin.length < steps) {
      throw new DiffusionParamsError(`LCM runs at most ${Math.min(original, origin.length)} steps at strength ${strength} (original_inference_steps ${original}), not ${steps}`);
    }
    // numpy's linspace(0, n, steps, endpoint=False), floored: i times the stride, as numpy multiplies.
    const every = origin.length / steps;
    super(Array.from({ length: steps }, (_, i) => origin[Math.floor(i * every)]!));
    this.acp = acp;
    this.prediction = oneOf("prediction_type", config.prediction_type, [...PREDICTIONS, "sample"], "epsilon");
    this.scaling = config.timestep_scaling ?? 10;
    this.clip = config.clip_sample ? (config.clip_sample_range ?? 1) : undefined;
  }

  scaleModelInput(latents: Float32Array): Float32Array {
    return latents.slice();
  }

  step(modelOutput: Float32Array, i: number, latents: Float32Array, rng: NoiseRng): Float32Array {
    this.advance(i);
    const t = this.ts[i]!;
    const a = Math.sqrt(this.acp[t]!);
    const b = Math.sqrt(1 - this.acp[t]!);
    // Boundary scalings with σ_data = 0.5: c_skip → 1 and c_out → 0 as t → 0.
    const st = t * this.scaling;
    const cSkip = 0.25 / (st * st + 0.25);
    const cOut = st / Math.sqrt(st * st + 0.25);
    const last = i === this.ts.length - 1;
    const tNext = this.ts[i + 1] ?? t;
    const aNext = Math.sqrt(this.acp[tNext]!);
    const bNext = Math.sqrt(1 - this.acp[tNext]!);
    const out = new Float32Array(latents.length);
    for (let k = 0; k < latents.length; k++) {
      const x = latents[k]!;
      const m = modelOutput[k]!;
      let x0 = this.prediction === "epsilon" ? (x - b * m) / a : this.prediction === "v_prediction" ? a * x - b * m : m;
      if (this.clip !== undefined) x0 = Math.min(this.clip, Math.max(-this.clip, x0));
      const denoised = cOut * x0 + cSkip * x;
      out[k] = last ? denoised : aNext * denoised + bNext * rng.nextNormal();
    }
    return out;
  }

  addNoise(latents: Float32Array, noise: Float32Array): Float32Array {
    const t = this.ts[0]!;
    const a = Math.sqrt(this.acp[t]!);
    const b = Math.sqrt(1 - this.acp[t]!);
    return latents.map((x, k) => a * x + b * noise[k]!);
  }
}

