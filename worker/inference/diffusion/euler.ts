import type { NoiseRng } from "./rng.js";
import { alphasCumprod, interpolate, karrasSigmas, mustBeOff, oneOf, sigmaToTimestep, trainSigmas, type SchedulerConfig } from "./scheduler-config.js";
import { BaseScheduler, DIFFUSERS_BETAS, PREDICTIONS, startIndex, type Prediction } from "./scheduler-base.js";
import type { Scheduler } from "./schedulers.js";
import { eulerTimesteps, SPACINGS } from "./timesteps.js";

/**
 * Euler (Karras et al. 2022, Algorithm 2 without churn) and Euler ancestral (k-diffusion's
 * sample_euler_ancestral): the ODE in σ, x' = (x - x̂₀)/σ, one step per σ; the ancestral one
 * steps to σ_down and adds fresh noise of σ_up so the marginal matches σ_next.
 */
export class EulerScheduler extends BaseScheduler implements Scheduler {
  readonly initNoiseSigma: number;
  private readonly sigmas: number[];
  private readonly prediction: Prediction;

  constructor(readonly sampler: "euler" | "euler-ancestral", config: SchedulerConfig, steps: number, strength: number) {
    const ancestral = sampler === "euler-ancestral";
    const spacing = oneOf("timestep_spacing", config.timestep_spacing, SPACINGS, "linspace");
    const acp = alphasCumprod(config, DIFFUSERS_BETAS);
    const train = trainSigmas(acp);
    let ts = eulerTimesteps(spacing, steps, acp.length, config.steps_offset ?? 0);
    let sigmas = ts.map((t) => Math.fround(interpolate(train, t)));
    let last = 0;
    if (!ancestral) {
      // Options only EulerDiscreteScheduler reads; EulerAncestral ignores them, as diffusers does.
      oneOf("interpolation_type", config.interpolation_type, ["linear"], "linear");
      oneOf("timestep_type", config.timestep_type, ["discrete"], "discrete");
      mustBeOff(config, ["use_exponential_sigmas", "use_beta_sigmas"]);
      if (config.use_karras_sigmas) {
        sigmas = karrasSigmas(config.sigma_min ?? sigmas.at(-1)!, config.sigma_max ?? sigmas[0]!, steps).map(Math.fround);
        const logs = train.map(Math.log);
        ts = sigmas.map((s) => Math.fround(sigmaToTimestep(s, logs)));
      }
      const final = oneOf("final_sigmas_type", config.final_sigmas_type, ["zero", "sigma_min"], "zero");
      if (final === "sigma_min") last = train[0]!;
    }
    const start = startIndex(steps, strength);
    super(ts.slice(start));
    this.prediction = oneOf("prediction_type", config.prediction_type, PREDICTIONS, "epsilon");
    this.sigmas = [...sigmas, last].slice(start);
    const max = Math.max(...sigmas);
    this.initNoiseSigma = spacing === "leading" ? Math.sqrt(max * max + 1) : max;
  }

  scaleModelInput(latents: Float32Array, i: number): Float32Array {
    const scale = 1 / Math.sqrt(this.sigmas[i]! ** 2 + 1);
    return latents.map((x) => x * scale);
  }

  step(modelOutput: Float32Array, i: number, latents: Float32Array, rng: NoiseRng): Float32Array {
    this.advance(i);
    const sigma = this.sigmas[i]!;
    const next = this.sigmas[i + 1]!;
    let down = next;
    let up = 0;
    if (this.sampler === "euler-ancestral") {
      up = Math.sqrt((next ** 2 * (sigma ** 2 - next ** 2)) / sigma ** 2);
      down = Math.sqrt(next ** 2 - up ** 2);
    }
    const dt = down - sigma;
    const v = this.prediction === "v_prediction";
    const out = new Float32Array(latents.length);
    for (let k = 0; k < latents.length; k++) {
      const x = latents[k]!;
      const m = modelOutput[k]!;
      // x̂₀; for v-prediction the model's output is v in the scaled input's frame.
      const x0 = v ? m * (-sigma / Math.sqrt(sigma ** 2 + 1)) + x / (sigma ** 2 + 1) : x - sigma * m;
      out[k] = x + ((x - x0) / sigma) * dt + (up > 0 ? rng.nextNormal() * up : 0);
    }
    return out;
  }

  addNoise(latents: Float32Array, noise: Float32Array): Float32Array {
    const sigma = this.sigmas[0]!;
    return latents.map((x, k) => x + sigma * noise[k]!);
  }
}

