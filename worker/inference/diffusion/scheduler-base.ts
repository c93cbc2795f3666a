import { DiffusionParamsError } from "./errors.js";

/** What the model predicts: the noise, or v (the velocity of Salimans and Ho, 2022). */
export type Prediction = "epsilon" | "v_prediction";
export const PREDICTIONS: readonly Prediction[] = ["epsilon", "v_prediction"];
/** diffusers' defaults where the config names no betas (all but LCM). */
export const DIFFUSERS_BETAS = { betaStart: 0.0001, betaEnd: 0.02, schedule: "linear" } as const;

/**
 * Where image-to-image starts (diffusers' get_timesteps): the last ⌊steps × strength⌋ steps of
 * the full schedule. Text-to-image (strength 1) starts at 0.
 */
export function startIndex(steps: number, strength: number): number {
  const run = Math.min(Math.floor(steps * strength), steps);
  if (run < 1) throw new DiffusionParamsError(`strength ${strength} with ${steps} steps leaves no step to run: steps × strength must be at least 1`);
  return steps - run;
}

export abstract class BaseScheduler {
  private next = 0;

  protected constructor(protected readonly ts: readonly number[]) {}

  timesteps(): number[] {
    return [...this.ts];
  }

  /** Steps run in order: a multistep sampler's memory would be wrong otherwise. */
  protected advance(i: number): void {
    if (i !== this.next || i >= this.ts.length) throw new Error(`scheduler step ${i} out of order: expected step ${this.next} of ${this.ts.length}`);
    this.next++;
  }
}

