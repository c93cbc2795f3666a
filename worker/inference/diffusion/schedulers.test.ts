import { describe, expect, it } from "vitest";
import { DiffusionModelError, DiffusionParamsError } from "./errors.js";
import { NoiseRng } from "./rng.js";
import { parseSchedulerConfig } from "./scheduler-config.js";
import { createScheduler, type SamplerName, type Scheduler } from "./schedulers.js";

// The schedules below are computed again here from their definitions, in float64 and without
// the implementation's helpers; the implementation rounds to float32 as torch does, so values
// are compared to a relative 1e-5 (they agree to about 1e-6).

/** SDXL's scheduler/scheduler_config.json (stabilityai/stable-diffusion-xl-base-1.0). */
const SDXL = {
  _class_name: "EulerDiscreteScheduler", beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, clip_sample: false,
  interpolation_type: "linear", num_train_timesteps: 1000, prediction_type: "epsilon", sample_max_value: 1.0, set_alpha_to_one: false,
  skip_prk_steps: true, steps_offset: 1, timestep_spacing: "leading", trained_betas: null, use_karras_sigmas: false,
};
/** SD 1.5's: a PNDM config without timestep_spacing, so the Euler samplers fall back to linspace. */
const SD15 = { _class_name: "PNDMScheduler", beta_end: 0.012, beta_schedule: "scaled_linear", beta_start: 0.00085, num_train_timesteps: 1000, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, trained_betas: null, clip_sample: false };
/** SDXL-Turbo's: Euler ancestral, trailing. */
const TURBO = { ...SDXL, _class_name: "EulerAncestralDiscreteScheduler", timestep_spacing: "trailing" };

const config = (c: object) => parseSchedulerConfig(JSON.stringify(c));
const make = (sampler: SamplerName, c: object, steps: number, strength?: number): Scheduler => createScheduler(sampler, config(c), { steps, strength });

// ---- the reference schedule ----
const T = 1000;
const alphaBar: number[] = (() => {
  const out: number[] = [];
  let product = 1;
  for (let t = 0; t < T; t++) {
    const root = Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * t) / (T - 1);
    product *= 1 - root * root;
    out.push(product);
  }
  return out;
})();
const trainSigma = alphaBar.map((a) => Math.sqrt((1 - a) / a));
const sigmaAt = (t: number): number => {
  const i = Math.min(Math.floor(t), T - 2);
  return trainSigma[i]! + (trainSigma[i + 1]! - trainSigma[i]!) * (t - i);
};
const leading = (n: number): number[] => Array.from({ length: n }, (_, i) => (n - 1 - i) * Math.floor(T / n) + 1);
const trailing = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.round(T - (i * T) / n) - 1);
const linspaced = (n: number): number[] => Array.from({ length: n }, (_, i) => ((n - 1 - i) * (T - 1)) / Math.max(n - 1, 1));
/** Karras et al.'s ρ = 7 schedule between SD's smallest and largest train sigmas. */
const karras = (n: number): number[] => {
  const [lo, hi] = [trainSigma[0]! ** (1 / 7), trainSigma[T - 1]! ** (1 / 7)];
  return Array.from({ length: n }, (_, i) => (hi + (n === 1 ? 0 : i / (n - 1)) * (lo - hi)) ** 7);
};
/** The timestep of a sigma: log σ interpolated between the two train steps around it. */
const timestepOf = (sigma: number): number => {
  const logs = trainSigma.map(Math.log);
  let i = 0;
  while (i < T - 2 && logs[i + 1]! <= Math.log(sigma)) i++;
  return i + Math.min(1, Math.max(0, (logs[i]! - Math.log(sigma)) / (logs[i]! - logs[i + 1]!)));
};
const bankers = (x: number): number => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e), `index ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(e)));
  }
}

/** Runs the sampling loop with `model(input, i)` as the UNet. */
function sample(s: Scheduler, start: Float32Array, model: (input: Float32Array, i: number) => Float32Array, rng = new NoiseRng(1)): Float32Array[] {
  const trace = [start];
  let x = start;
  s.timesteps().forEach((_, i) => {
    x = s.step(model(s.scaleModelInput(x, i), i), i, x, rng);
    trace.push(x);
  });
  return trace;
}

describe("schedules from the SDXL config", () => {
  it("matches the published anchors", () => {
    expect(make("euler", SDXL, 4).timesteps()).toEqual([751, 501, 251, 1]);
    expect(make("euler-ancestral", TURBO, 1).timesteps()).toEqual([999]);
    expect(make("euler-ancestral", TURBO, 4).timesteps()).toEqual([999, 749, 499, 249]);
    expect(make("lcm", SDXL, 4).timesteps()).toEqual([999, 759, 499, 259]);
    expect(make("euler", SD15, 4).timesteps()).toEqual([999, 666, 333, 0]);
    // k-diffusion's SD noise range: σ_max 14.6146, σ_min 0.0292.
    expect(trainSigma[T - 1]).toBeCloseTo(14.6146, 3);
    expect(trainSigma[0]).toBeCloseTo(0.0292, 4);
  });

  for (const n of [1, 4, 8, 30, 50]) {
    it(`Euler, ${n} steps: leading timesteps, interpolated sigmas, init sigma`, () => {
      const s = make("euler", SDXL, n);
      expectClose(s.timesteps(), leading(n));
      const sigmas = leading(n).map(sigmaAt);
      expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(sigmas[0]! ** 2 + 1), 3);
      // A model that predicts no noise at all leaves the latents where they are.
      const x = Float32Array.of(0.5, -2);
      expectClose(s.step(new Float32Array(2), 0, x, new NoiseRng(0)), x);
    });

    it(`DPM++ 2M Karras, ${n} steps: Karras sigmas and their rounded timesteps`, () => {
      const s = make("dpmpp-2m-karras", SDXL, n);
      expect(s.timesteps()).toEqual(karras(n).map((sigma) => bankers(timestepOf(sigma))));
      expect(s.initNoiseSigma).toBe(1);
    });

    it(`Euler ancestral (trailing), ${n} steps`, () => {
      expect(make("euler-ancestral", TURBO, n).timesteps()).toEqual(trailing(n));
      expect(make("euler-ancestral", TURBO, n).initNoiseSigma).toBeCloseTo(sigmaAt(trailing(n)[0]!), 3);
    });
  }

  it("Euler with use_karras_sigmas: Karras sigmas between the spaced schedule's ends, fractional timesteps", () => {
    const n = 8;
    const [hi, lo] = [sigmaAt(leading(n)[0]!), sigmaAt(leading(n)[n - 1]!)];
    const sigmas = Array.from({ length: n }, (_, i) => (hi ** (1 / 7) + (i / (n - 1)) * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7);
    const s = make("euler", { ...SDXL, use_karras_sigmas: true }, n);
    expectClose(s.timesteps(), sigmas.map(timestepOf));
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(hi * hi + 1), 3);
    // Its first step uses the first Karras sigma: ε = 1 moves x by (σ_1 - σ_0).
    expectClose(s.step(Float32Array.of(1), 0, Float32Array.of(0), new NoiseRng(0)), [sigmas[1]! - sigmas[0]!]);
  });

  it("Euler under linspace spacing (SD 1.5's config)", () => {
    const s = make("euler", SD15, 25);
    expectClose(s.timesteps(), linspaced(25));
    expect(s.initNoiseSigma).toBeCloseTo(trainSigma[T - 1]!, 3);
  });
});

describe("sampling a model whose answer is known", () => {
  it("Euler with model output c·x follows the closed-form product", () => {
    const c = 0.3;
    const n = 10;
    const sigmas = [...leading(n).map(sigmaAt), 0];
    const start = Float32Array.of(1, -3, 0.25);
    const trace = sample(make("euler", SDXL, n), start, (input) => input.map((v) => c * v));
    // x_{k+1} = x_k + ε·(σ_{k+1} - σ_k) with ε = c·x_k/√(σ_k² + 1).
    let factor = 1;
    for (let k = 0; k < n; k++) {
      factor *= 1 + (c * (sigmas[k + 1]! - sigmas[k]!)) / Math.sqrt(sigmas[k]! ** 2 + 1);
      expectClose(trace[k + 1]!, Array.from(start, (v) => v * factor));
    }
  });

  it("Euler with a model that knows the clean sample lands on it, shrinking the noise as σ_k/σ_0", () => {
    const a = Float32Array.of(0.7, -0.2);
    const n = 6;
    const sigmas = leading(n).map(sigmaAt);
    const start = Float32Array.of(12, -9);
    // ε = (x - a)/σ in the unscaled frame; the model sees x/√(σ² + 1).
    const trace = sample(make("euler", SDXL, n), start, (input, i) =>
      input.map((v, k) => (v * Math.sqrt(sigmas[i]! ** 2 + 1) - a[k]!) / sigmas[i]!));
    for (let k = 1; k < n; k++) expectClose(trace[k]!, Array.from(a, (v, j) => v + ((start[j]! - v) * sigmas[k]!) / sigmas[0]!));
    expectClose(trace[n]!, a);
  });

  it("Euler ancestral steps to σ_down and adds σ_up of the seeded noise", () => {
    const a = Float32Array.of(0.1, 0.2, -0.3);
    const n = 4;
    const sigmas = [...trailing(n).map(sigmaAt), 0];
    const start = Float32Array.of(3, -4, 5);
    const trace = sample(make("euler-ancestral", TURBO, n), start, (input, i) =>
      input.map((v, k) => (v * Math.sqrt(sigmas[i]! ** 2 + 1) - a[k]!) / sigmas[i]!), new NoiseRng(99));
    const noise = new NoiseRng(99);
    let x = Array.from(start);
    for (let k = 0; k < n; k++) {
      const [from, to] = [sigmas[k]!, sigmas[k + 1]!];
      const up = Math.sqrt((to ** 2 * (from ** 2 - to ** 2)) / from ** 2);
      const down = Math.sqrt(to ** 2 - up ** 2);
      x = x.map((v, j) => a[j]! + ((v - a[j]!) * down) / from + (up > 0 ? up * noise.nextNormal() : 0));
      expectClose(trace[k + 1]!, x);
    }
    expectClose(trace[n]!, a);
  });

  it("DPM++ 2M: constant x̂₀ is integrated exactly, x_k = α_k·a + (σ_k α_k)/(σ_0 α_0)·(x_0 - α_0·a)", () => {
    const a = Float32Array.of(0.4, -1.1);
    const n = 8;
    const sigmas = karras(n);
    const alpha = (s: number) => 1 / Math.sqrt(s * s + 1);
    const start = Float32Array.of(2, 1);
    // In DPM-Solver's frame x = α·x₀ + σα·ε, so the noise that gives x̂₀ = a is (x - α·a)/(σα).
    const trace = sample(make("dpmpp-2m-karras", SDXL, n), start, (input, i) =>
      input.map((v, k) => (v - alpha(sigmas[i]!) * a[k]!) / (sigmas[i]! * alpha(sigmas[i]!))));
    const s0 = sigmas[0]! * alpha(sigmas[0]!);
    for (let k = 1; k < n; k++) {
      const sk = sigmas[k]! * alpha(sigmas[k]!);
      expectClose(trace[k]!, Array.from(a, (v, j) => alpha(sigmas[k]!) * v + (sk / s0) * (start[j]! - alpha(sigmas[0]!) * v)));
    }
    expectClose(trace[n]!, a);
  });

  it("DPM++ 2M: a drifting x̂₀ gets the midpoint correction, x̂₀ + (x̂₀ - x̂₀_prev)/(2r)", () => {
    // The model predicts x̂₀_k = 1 + k/4 at step k, whatever x is: the update is then a sum in closed form.
    const n = 6;
    const sigmas = karras(n);
    const alpha = (s: number) => 1 / Math.sqrt(s * s + 1);
    const lambda = (s: number) => -Math.log(s); // log(α) - log(σα)
    const target = (k: number) => 1 + k / 4;
    const trace = sample(make("dpmpp-2m-karras", SDXL, n), Float32Array.of(0.5), (input, i) =>
      input.map((v) => (v - alpha(sigmas[i]!) * target(i)) / (sigmas[i]! * alpha(sigmas[i]!))));
    let x = 0.5;
    for (let k = 0; k < n - 1; k++) {
      const h = lambda(sigmas[k + 1]!) - lambda(sigmas[k]!);
      const d = k === 0 ? target(0) : target(k) + (target(k) - target(k - 1)) / (2 * ((lambda(sigmas[k]!) - lambda(sigmas[k - 1]!)) / h));
      x = ((sigmas[k + 1]! * alpha(sigmas[k + 1]!)) / (sigmas[k]! * alpha(sigmas[k]!))) * x + alpha(sigmas[k + 1]!) * (1 - Math.exp(-h)) * d;
      expectClose(trace[k + 1]!, [x]);
    }
    // The last step, to σ = 0, is first order: it lands on that step's x̂₀.
    expectClose(trace[n]!, [target(n - 1)], 1e-5);
  });

  it("DPM++ 2M ending at σ_min: the Karras schedule already ends there, so the last step changes nothing", () => {
    const sigmas = karras(5);
    const alpha = (s: number) => 1 / Math.sqrt(s * s + 1);
    const trace = sample(make("dpmpp-2m-karras", { ...SDXL, final_sigmas_type: "sigma_min" }, 5), Float32Array.of(-0.5), (input, i) =>
      input.map((v) => (v - alpha(sigmas[i]!) * (1 - i / 3)) / (sigmas[i]! * alpha(sigmas[i]!))));
    expect(trace[5]).toEqual(trace[4]);
    expect(Math.abs(trace[4]![0]! - trace[3]![0]!)).toBeGreaterThan(1e-3);
  });

  it("LCM blends x̂₀ with the input by the boundary scalings and re-noises between steps", () => {
    const a = Float32Array.of(0.25, -0.5);
    const ts = [999, 759, 499, 259];
    const start = Float32Array.of(1.5, 0.3);
    const trace = sample(make("lcm", SDXL, 4), start, (input, i) =>
      input.map((v, k) => (v - Math.sqrt(alphaBar[ts[i]!]!) * a[k]!) / Math.sqrt(1 - alphaBar[ts[i]!]!)), new NoiseRng(5));
    const noise = new NoiseRng(5);
    let x = Array.from(start);
    ts.forEach((t, i) => {
      const st = 10 * t;
      const [skip, out] = [0.25 / (st * st + 0.25), st / Math.sqrt(st * st + 0.25)];
      const denoised = x.map((v, j) => out * a[j]! + skip * v);
      const next = ts[i + 1];
      x = next === undefined ? denoised : denoised.map((v) => Math.sqrt(alphaBar[next]!) * v + Math.sqrt(1 - alphaBar[next]!) * noise.nextNormal());
      expectClose(trace[i + 1]!, x);
    });
  });

  it("LCM's boundary scalings: with a small timestep_scaling the input's share shows", () => {
    // c_skip = 0.25/((s·t)² + 0.25) is ~1e-8 at SD's scaling of 10; at 0.001 it is most of the blend.
    const a = 2;
    const ts = [999, 499];
    const trace = sample(make("lcm", { ...SDXL, timestep_scaling: 0.001 }, 2), Float32Array.of(1), (input, i) =>
      input.map((v) => (v - Math.sqrt(alphaBar[ts[i]!]!) * a) / Math.sqrt(1 - alphaBar[ts[i]!]!)), new NoiseRng(8));
    const noise = new NoiseRng(8);
    const blend = (t: number, x: number) => {
      const st = 0.001 * t;
      return (st / Math.sqrt(st * st + 0.25)) * a + (0.25 / (st * st + 0.25)) * x;
    };
    const x1 = Math.sqrt(alphaBar[499]!) * blend(999, 1) + Math.sqrt(1 - alphaBar[499]!) * noise.nextNormal();
    expectClose(trace[1]!, [x1]);
    expectClose(trace[2]!, [blend(499, x1)]);
  });

  it("v-prediction: a model that gives the true v lands on the clean sample (Euler and DPM++ 2M)", () => {
    const v = { ...SD15, prediction_type: "v_prediction", timestep_spacing: "trailing" };
    const a = Float32Array.of(0.3, -0.6);
    const eulerSigmas = trailing(5).map(sigmaAt);
    // Euler's v is in the scaled frame: x̂₀ = -σ/√(σ²+1)·v + x/(σ²+1), with x the unscaled latent.
    const euler = sample(make("euler", v, 5), Float32Array.of(4, 4), (input, i) => {
      const s = eulerSigmas[i]!;
      return input.map((xin, k) => ((xin * Math.sqrt(s * s + 1)) / (s * s + 1) - a[k]!) * (Math.sqrt(s * s + 1) / s));
    });
    expectClose(euler.at(-1)!, a);
    const dpmSigmas = karras(5);
    // DPM-Solver's: x̂₀ = α·x - σα·v.
    const dpm = sample(make("dpmpp-2m-karras", v, 5), Float32Array.of(1, 1), (input, i) => {
      const alpha = 1 / Math.sqrt(dpmSigmas[i]! ** 2 + 1);
      return input.map((x, k) => (alpha * x - a[k]!) / (dpmSigmas[i]! * alpha));
    });
    expectClose(dpm.at(-1)!, a);
  });
});

describe("image-to-image", () => {
  it("runs the last ⌊steps × strength⌋ steps and noises the image to the first of them", () => {
    const s = make("euler", SDXL, 30, 0.5);
    expect(s.timesteps()).toEqual(leading(30).slice(15));
    const sigma = sigmaAt(leading(30)[15]!);
    expectClose(s.addNoise(Float32Array.of(1, 2), Float32Array.of(1, -1)), [1 + sigma, 2 - sigma]);

    const dpm = make("dpmpp-2m-karras", SDXL, 20, 0.3);
    const sd = karras(20)[14]!;
    expect(dpm.timesteps()).toHaveLength(6);
    expectClose(dpm.addNoise(Float32Array.of(1), Float32Array.of(1)), [(1 + sd) / Math.sqrt(sd * sd + 1)]);
  });

  it("LCM shortens its distillation schedule by strength and runs every step", () => {
    // 50 × 0.5 = 25 origin steps: 19, 39, ... 499, reversed; four of them evenly.
    const s = make("lcm", SDXL, 4, 0.5);
    expect(s.timesteps()).toEqual([499, 379, 259, 139]);
    const t = 499;
    expectClose(s.addNoise(Float32Array.of(1), Float32Array.of(2)), [Math.sqrt(alphaBar[t]!) + 2 * Math.sqrt(1 - alphaBar[t]!)]);
  });

  it("refuses a strength that leaves no step", () => {
    expect(() => make("euler", SDXL, 4, 0.2)).toThrow(DiffusionParamsError);
    expect(() => make("lcm", SDXL, 8, 0.1)).toThrow(/LCM runs at most 5 steps/);
  });
});

describe("what the schedulers refuse", () => {
  it("names the field and the values it supports", () => {
    expect(() => make("euler", { ...SDXL, prediction_type: "sample" }, 4)).toThrow(/prediction_type "sample" is not supported here \(supported: epsilon, v_prediction\)/);
    expect(() => make("euler", { ...SDXL, beta_schedule: "squaredcos_cap_v2" }, 4)).toThrow(/beta_schedule "squaredcos_cap_v2"/);
    expect(() => make("dpmpp-2m-karras", { ...SDXL, timestep_spacing: "uniform" }, 4)).toThrow(/timestep_spacing "uniform"/);
    expect(() => make("dpmpp-2m-karras", { ...SDXL, algorithm_type: "sde-dpmsolver++" }, 4)).toThrow(/algorithm_type/);
    expect(() => make("euler", { ...SDXL, rescale_betas_zero_snr: true }, 4)).toThrow(/rescale_betas_zero_snr true is not supported/);
    expect(() => make("euler", { ...SDXL, num_train_timesteps: "1000" }, 4)).toThrow(DiffusionModelError);
  });

  it("ignores what the chosen sampler does not read, as diffusers' from_config does", () => {
    // A DPM-Solver config's SDE algorithm means nothing to Euler.
    expect(make("euler", { ...SDXL, algorithm_type: "sde-dpmsolver++", solver_order: 3 }, 4).timesteps()).toEqual([751, 501, 251, 1]);
  });

  it("reads diffusers' -Infinity for lambda_min_clipped", () => {
    const text = JSON.stringify({ ...SDXL, _class_name: "DPMSolverMultistepScheduler" }).replace("}", ', "lambda_min_clipped": -Infinity}');
    expect(createScheduler("dpmpp-2m-karras", parseSchedulerConfig(text), { steps: 4 }).timesteps()).toHaveLength(4);
    expect(() => parseSchedulerConfig("{nope")).toThrow(/scheduler_config\.json is not JSON/);
  });

  it("hands the UNet a new array every time, so a feed moved to a session thread leaves the latents intact", () => {
    for (const sampler of ["euler", "euler-ancestral", "dpmpp-2m-karras", "lcm"] as const) {
      const x = Float32Array.of(1, 2);
      const input = make(sampler, SDXL, 4).scaleModelInput(x, 0);
      expect(input).not.toBe(x);
      expect(input.buffer).not.toBe(x.buffer);
    }
  });

  it("refuses steps out of range and steps out of order", () => {
    expect(() => make("euler", SDXL, 0)).toThrow(DiffusionParamsError);
    expect(() => make("euler", SDXL, 2.5)).toThrow(DiffusionParamsError);
    expect(() => make("euler", SDXL, 1001)).toThrow(DiffusionParamsError);
    const s = make("dpmpp-2m-karras", SDXL, 4);
    const x = new Float32Array(1);
    expect(() => s.step(x, 1, x, new NoiseRng(0))).toThrow(/out of order/);
  });
});
