import { describe, expect, it } from "vitest";
import { lognormalDelay, standardNormal } from "./inference-time.js";

/** A seeded uniform generator (mulberry32), so the statistics below are the same every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sorted = (n: number, f: () => number) => Array.from({ length: n }, f).sort((a, b) => a - b);

describe("lognormalDelay", () => {
  it("centres on the median, with log-space spread sigma", () => {
    const s = sorted(40_000, lognormalDelay(2000, 0.25, seeded(1)));
    const q = (p: number) => s[Math.floor(p * s.length)]!;
    expect(q(0.5)).toBeGreaterThan(1960);
    expect(q(0.5)).toBeLessThan(2040);
    // One standard deviation up in log space: the 84th percentile is median × e^σ.
    expect(q(0.8413) / q(0.5)).toBeCloseTo(Math.exp(0.25), 1);
    expect(s[0]).toBeGreaterThan(0);
  });

  it("is the median every time with sigma 0", () => {
    const next = lognormalDelay(400, 0, seeded(2));
    expect(new Set(Array.from({ length: 100 }, next))).toEqual(new Set([400]));
  });

  it("refuses a negative or missing median or sigma", () => {
    expect(() => lognormalDelay(-1, 0.2)).toThrow(RangeError);
    expect(() => lognormalDelay(100, -0.1)).toThrow(RangeError);
    expect(() => lognormalDelay(Number.NaN, 0.1)).toThrow(RangeError);
  });
});

describe("standardNormal", () => {
  it("has mean 0 and variance 1, and survives a uniform of exactly 0", () => {
    const r = seeded(4);
    const xs = Array.from({ length: 40_000 }, () => standardNormal(r));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(variance).toBeGreaterThan(0.95);
    expect(variance).toBeLessThan(1.05);
    expect(xs.every(Number.isFinite)).toBe(true);
    expect(Number.isFinite(standardNormal(() => 0))).toBe(true);
  });
});
