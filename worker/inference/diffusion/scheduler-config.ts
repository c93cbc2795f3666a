import { z } from "zod";
import { DiffusionModelError } from "./errors.js";

/**
 * scheduler/scheduler_config.json as diffusers writes it, for any scheduler class: the fields
 * some sampler here reads, type-checked; the rest kept and ignored, as diffusers' from_config
 * ignores keys the target class does not take. Which values are supported is each sampler's
 * check (schedulers.ts), since a key one sampler ignores must not fail another.
 */
const flag = z.boolean().nullable().optional();
const name = z.string().nullable().optional();
const SchedulerConfigSchema = z.looseObject({
  _class_name: name,
  num_train_timesteps: z.number().int().min(2).max(100_000).optional(),
  beta_start: z.number().positive().max(1).optional(),
  beta_end: z.number().positive().max(1).optional(),
  beta_schedule: name,
  trained_betas: z.array(z.number().min(0).max(1)).nullable().optional(),
  prediction_type: name,
  timestep_spacing: name,
  steps_offset: z.number().int().min(0).optional(),
  interpolation_type: name,
  timestep_type: name,
  final_sigmas_type: name,
  use_karras_sigmas: flag,
  use_exponential_sigmas: flag,
  use_beta_sigmas: flag,
  use_lu_lambdas: flag,
  use_flow_sigmas: flag,
  rescale_betas_zero_snr: flag,
  thresholding: flag,
  sigma_min: z.number().positive().nullable().optional(),
  sigma_max: z.number().positive().nullable().optional(),
  algorithm_type: name,
  solver_type: name,
  solver_order: z.number().int().optional(),
  lower_order_final: flag,
  euler_at_final: flag,
  // -Infinity by default, which z.number() refuses.
  lambda_min_clipped: z.custom<number>((v) => typeof v === "number" && !Number.isNaN(v), "expected a number").optional(),
  variance_type: name,
  original_inference_steps: z.number().int().positive().optional(),
  timestep_scaling: z.number().positive().optional(),
  clip_sample: flag,
  clip_sample_range: z.number().positive().optional(),
});

export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;

/**
 * Parses the text of scheduler_config.json. Python's json module writes -inf (DPM-Solver's
 * lambda_min_clipped default) as the bare token -Infinity, which JSON.parse refuses; such
 * tokens in value position are read as numbers.
 */
export function parseSchedulerConfig(text: string): SchedulerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1"$2"'), (_key, value: unknown) =>
      value === "Infinity" ? Infinity : value === "-Infinity" ? -Infinity : value === "NaN" ? NaN : value);
  } catch (err) {
    throw new DiffusionModelError(`scheduler_config.json is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = SchedulerConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new DiffusionModelError(`scheduler_config.json: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
}

/** A field's value must be one of `allowed` (its default when absent); anything else is a clear error. */
export function oneOf<const T extends string>(field: string, value: string | null | undefined, allowed: readonly T[], fallback: T): T {
  const v = value ?? fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new DiffusionModelError(`scheduler_config.json: ${field} ${JSON.stringify(v)} is not supported here (supported: ${allowed.join(", ")})`);
}

/** A switch this worker does not implement must be off. */
export function mustBeOff(config: SchedulerConfig, fields: readonly (keyof SchedulerConfig)[]): void {
  for (const field of fields) {
    if (config[field] === true) throw new DiffusionModelError(`scheduler_config.json: ${String(field)} true is not supported here`);
  }
}

export interface BetaDefaults {
  betaStart: number;
  betaEnd: number;
  schedule: "linear" | "scaled_linear";
}

/**
 * ᾱ_t = ∏(1 - β_s) for t = 0..T-1. Rounded to float32 at each step as torch computes it, so
 * sigmas agree with diffusers' to float32 precision rather than drifting by its rounding.
 */
export function alphasCumprod(config: SchedulerConfig, defaults: BetaDefaults): Float64Array {
  mustBeOff(config, ["rescale_betas_zero_snr"]);
  const steps = config.num_train_timesteps ?? 1000;
  let betas: number[];
  if (config.trained_betas) {
    if (config.trained_betas.length !== steps) {
      throw new DiffusionModelError(`scheduler_config.json: trained_betas has ${config.trained_betas.length} values for ${steps} train timesteps`);
    }
    betas = config.trained_betas.map(Math.fround);
  } else {
    const schedule = oneOf("beta_schedule", config.beta_schedule, ["linear", "scaled_linear"], defaults.schedule);
    const start = config.beta_start ?? defaults.betaStart;
    const end = config.beta_end ?? defaults.betaEnd;
    betas = schedule === "linear"
      ? linspace(start, end, steps).map(Math.fround)
      : linspace(Math.sqrt(start), Math.sqrt(end), steps).map((b) => Math.fround(Math.fround(b) ** 2));
  }
  const out = new Float64Array(steps);
  let product = 1;
  betas.forEach((beta, t) => {
    product = Math.fround(product * Math.fround(1 - beta));
    out[t] = product;
  });
  return out;
}

/** σ_t = √((1 - ᾱ_t) / ᾱ_t): the noise level of train timestep t in the variance-exploding view. */
export function trainSigmas(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => Math.fround(Math.sqrt((1 - a) / a)));
}

/** numpy's linspace with the end point included. */
export function linspace(start: number, end: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (end - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? end : start + i * step));
}

/** Linear interpolation of `values` (sampled at 0, 1, 2...) at fractional index x, clamped at the ends (np.interp). */
export function interpolate(values: ArrayLike<number>, x: number): number {
  const last = values.length - 1;
  if (x <= 0) return values[0]!;
  if (x >= last) return values[last]!;
  const i = Math.floor(x);
  const w = x - i;
  return values[i]! * (1 - w) + values[i + 1]! * w;
}

/** Karras et al. (2022) noise levels: evenly spaced in σ^(1/ρ) from σ_max down to σ_min, ρ = 7. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const lo = sigmaMin ** (1 / rho);
  const hi = sigmaMax ** (1 / rho);
  return linspace(0, 1, n).map((r) => (hi + r * (lo - hi)) ** rho);
}

/** The fractional train timestep whose σ is `sigma`, interpolating log σ between neighbours. */
export function sigmaToTimestep(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // The last index whose log σ is at most this one's, kept below the end so a neighbour exists.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigmas[i]! <= logSigma) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const w = Math.min(1, Math.max(0, (logSigmas[low]! - logSigma) / (logSigmas[low]! - logSigmas[low + 1]!)));
  return low + w;
}
