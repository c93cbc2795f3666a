/**
 * The modelled inference time of a simulated worker: lognormal, as service times of a model on
 * a GPU are (a floor with a long right tail), around `medianMs`. `sigma` is the spread in log
 * space: 0 gives the median every time; 0.25 puts about 90% of samples within ±40%.
 */
export function lognormalDelay(medianMs: number, sigma: number, random: () => number = Math.random): () => number {
  if (!(medianMs >= 0) || !(sigma >= 0)) throw new RangeError(`inference time needs a median ≥ 0 and a sigma ≥ 0 (got ${medianMs}, ${sigma})`);
  return () => medianMs * Math.exp(sigma * standardNormal(random));
}

/** One N(0, 1) sample (Box–Muller); `random` is uniform on [0, 1). */
export function standardNormal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
