import { DiffusionModelError } from "./errors.js";
import { alphasCumprod, karrasSigmas, mustBeOff, oneOf, sigmaToTimestep, trainSigmas, type SchedulerConfig } from "./scheduler-config.js";
import { BaseScheduler, DIFFUSERS_BETAS, PREDICTIONS, startIndex, type Prediction } from "./scheduler-base.js";
import type { Scheduler } from "./schedulers.js";
import { roundHalfEven, SPACINGS } from "./timesteps.js";

/**
 * DPM-Solver++(2M) (Lu et al. 2022) on Karras sigmas: multistep, second order, predicting x̂₀
 * in the variance-preserving frame x = α·x₀ + σ_t·ε with α = 1/√(σ²+1), σ_t = σ·α. The first
 * step has nothing to extrapolate from and is first order. The last one lands on x̂₀ when it ends
 * at σ = 0 (an infinite log-SNR step), or steps from σ_min to σ_min, changing nothing, when
 * final_sigmas_type is sigma_min; so diffusers' lower_order_final and euler_at_final, which only
 * choose the order of that step, change nothing on Karras sigmas and are not read.
 */
export class DpmSolverScheduler extends BaseScheduler implements Scheduler {
  readonly sampler = "dpmpp-2m-karras" as const;
  readonly initNoiseSigma = 1;
  private readonly sigmas: number[];
  private readonly prediction: Prediction;
  private readonly order: 1 | 2;
  private previous: Float32Array | undefined;

  constructor(config: SchedulerConfig, steps: number, strength: number) {
    // DEIS configs name their own algorithm; diffusers runs them as dpmsolver++ with midpoint.
    oneOf("algorithm_type", config.algorithm_type === "deis" ? null : config.algorithm_type, ["dpmsolver++"], "dpmsolver++");
    const solver = config.solver_type && ["logrho", "bh1", "bh2"].includes(config.solver_type) ? null : config.solver_type;
    oneOf("solver_type", solver, ["midpoint"], "midpoint");
    mustBeOff(config, ["use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas"]);
    if (config.variance_type) throw new DiffusionModelError(`scheduler_config.json: variance_type ${JSON.stringify(config.variance_type)} is not supported here`);
    if (config.lambda_min_clipped !== undefined && config.lambda_min_clipped !== -Infinity) {
      throw new DiffusionModelError("scheduler_config.json: a finite lambda_min_clipped (for cosine schedules) is not supported here");
    }
    const order = config.solver_order ?? 2;
    if (order !== 1 && order !== 2) throw new DiffusionModelError(`scheduler_config.json: solver_order ${order} is not supported here (1 or 2)`);
    const acp = alphasCumprod(config, DIFFUSERS_BETAS);
    const train = trainSigmas(acp);
    // Karras sigmas replace the spaced ones, so spacing only has to be valid.
    oneOf("timestep_spacing", config.timestep_spacing, SPACINGS, "linspace");
    const sigmas = karrasSigmas(train[0]!, train.at(-1)!, steps);
    const logs = train.map(Math.log);
    const ts = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, logs)));
    const final = oneOf("final_sigmas_type", config.final_sigmas_type, ["zero", "sigma_min"], "zero");
    const start = startIndex(steps, strength);
    super(ts.slice(start));
    this.prediction = oneOf("prediction_type", config.prediction_type, PREDICTIONS, "epsilon");
    this.order = order;
    this.sigmas = [...sigmas, final === "zero" ? 0 : train[0]!].map(Math.fround).slice(start);
  }

  scaleModelInput(latents: Float32Array): Float32Array {
    return latents.slice();
  }

  step(modelOutput: Float32Array, i: number, latents: Float32Array): Float32Array {
    this.advance(i);
    const [alpha, sigmaT] = vp(this.sigmas[i]!);
    const [alphaNext, sigmaTNext] = vp(this.sigmas[i + 1]!);
    const x0 = new Float32Array(latents.length);
    for (let k = 0; k < latents.length; k++) {
      const x = latents[k]!;
      const m = modelOutput[k]!;
      x0[k] = this.prediction === "epsilon" ? (x - sigmaT * m) / alpha : alpha * x - sigmaT * m;
    }
    const firstOrder = this.order === 1 || !this.previous;
    const out = new Float32Array(latents.length);
    if (sigmaTNext === 0) {
      // λ_next = +∞: the step lands on x̂₀.
      out.set(x0);
    } else {
      const lambda = (a: number, s: number): number => Math.log(a) - Math.log(s);
      const h = lambda(alphaNext, sigmaTNext) - lambda(alpha, sigmaT);
      const keep = sigmaTNext / sigmaT;
      const push = -alphaNext * Math.expm1(-h);
      // D1 = (D0 - D_prev)/r0 with r0 = h_prev/h: the midpoint correction.
      const [alphaPrev, sigmaTPrev] = vp(this.sigmas[i - 1] ?? this.sigmas[i]!);
      const r = firstOrder ? 0 : (lambda(alpha, sigmaT) - lambda(alphaPrev, sigmaTPrev)) / h;
      for (let k = 0; k < latents.length; k++) {
        const d = firstOrder ? x0[k]! : x0[k]! + (0.5 / r) * (x0[k]! - this.previous![k]!);
        out[k] = keep * latents[k]! + push * d;
      }
    }
    this.previous = x0;
    return out;
  }

  addNoise(latents: Float32Array, noise: Float32Array): Float32Array {
    const [alpha, sigmaT] = vp(this.sigmas[0]!);
    return latents.map((x, k) => alpha * x + sigmaT * noise[k]!);
  }
}

/** α and σ_t of the variance-preserving frame for a noise level σ. */
function vp(sigma: number): [number, number] {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return [alpha, sigma * alpha];
}

