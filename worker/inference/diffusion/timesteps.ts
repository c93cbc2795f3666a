import { linspace } from "./scheduler-config.js";

/**
 * Which train timesteps a run of `steps` visits, highest first, by diffusers' timestep_spacing
 * (Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed"): linspace spreads
 * them over the whole range, leading starts from 0 in whole strides (and shifts by
 * steps_offset), trailing starts from the last train step.
 */
export type Spacing = "linspace" | "leading" | "trailing";
export const SPACINGS: readonly Spacing[] = ["linspace", "leading", "trailing"];

/**
 * The Euler schedulers' timesteps: float32, fractional under linspace. For trailing, numpy's
 * arange(T, 0, -T/n) can yield n + 1 values when T/(T/n) rounds above n (n = 61 for T = 1000),
 * ending in a timestep of -1; this returns the n values that were meant.
 */
export function eulerTimesteps(spacing: Spacing, steps: number, trainSteps: number, offset: number): number[] {
  let ts: number[];
  if (spacing === "linspace") {
    ts = linspace(0, trainSteps - 1, steps).reverse();
  } else if (spacing === "leading") {
    const ratio = Math.floor(trainSteps / steps);
    ts = Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + offset);
  } else {
    const ratio = trainSteps / steps;
    ts = Array.from({ length: steps }, (_, i) => roundHalfEven(trainSteps - i * ratio) - 1);
  }
  return ts.map(Math.fround);
}

/** numpy's round: halves go to the even neighbour (np.round(2.5) is 2). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
