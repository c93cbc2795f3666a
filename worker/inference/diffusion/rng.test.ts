import { describe, expect, it } from "vitest";
import { NoiseRng } from "./rng.js";

describe("NoiseRng", () => {
  it("is xoshiro128**: the reference implementation's first outputs from state 1, 2, 3, 4", () => {
    const rng = NoiseRng.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => rng.nextUint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("gives the same numbers for the same seed, and others for another", () => {
    expect(new NoiseRng(42).normals(64)).toEqual(new NoiseRng(42).normals(64));
    expect(new NoiseRng(42).normals(64)).not.toEqual(new NoiseRng(43).normals(64));
    // Seeds beyond 32 bits count too.
    expect(new NoiseRng(2 ** 40 + 42).normals(8)).not.toEqual(new NoiseRng(42).normals(8));
  });

  it("does not depend on how the draws are chunked", () => {
    const whole = new NoiseRng(7).normals(9);
    const rng = new NoiseRng(7);
    const parts = [...rng.normals(3), ...rng.normals(1), ...rng.normals(5)];
    expect(Float32Array.from(parts)).toEqual(whole);
  });

  it("draws standard normals", () => {
    const n = 200_000;
    const z = new NoiseRng(1234).normals(n);
    let sum = 0;
    let squares = 0;
    let beyond = 0;
    for (const v of z) {
      sum += v;
      squares += v * v;
      if (Math.abs(v) > 1.959964) beyond++;
    }
    const mean = sum / n;
    // The standard error of the mean is 1/√n ≈ 0.0022, of the variance √(2/n) ≈ 0.0032.
    expect(Math.abs(mean)).toBeLessThan(0.015);
    expect(Math.abs(squares / n - mean * mean - 1)).toBeLessThan(0.02);
    // 5% of a normal lies beyond ±1.96σ (standard error ≈ 0.0005).
    expect(Math.abs(beyond / n - 0.05)).toBeLessThan(0.004);
  });

  it("refuses seeds that are not whole numbers from 0 to 2^53 - 1", () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => new NoiseRng(bad)).toThrow(RangeError);
  });
});
