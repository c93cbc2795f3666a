import { describe, expect, it } from "vitest";
import type { ModelParam } from "./crd-types.js";
import { resolveParams } from "./model-params.js";

const decls: ModelParam[] = [
  { name: "threshold", type: "number", default: 0.3, min: 0, max: 1 },
  { name: "steps", type: "integer", min: 1, max: 50 },
  { name: "invert", type: "boolean", default: false },
  { name: "label", type: "string" },
  { name: "scheduler", type: "string", enum: ["euler", "lcm"], default: "euler" },
];

function invalid(message: RegExp): unknown {
  return expect.objectContaining({ reason: "InvalidParams", message: expect.stringMatching(message) as unknown });
}

describe("resolveParams", () => {
  it("fills defaults and leaves out params with neither value nor default", () => {
    expect(resolveParams(decls, {})).toEqual({ threshold: 0.3, invert: false, scheduler: "euler" });
    expect(resolveParams(decls, undefined)).toEqual({ threshold: 0.3, invert: false, scheduler: "euler" });
  });

  it("takes valid values of each type", () => {
    expect(resolveParams(decls, { threshold: 1, steps: 50, invert: true, label: "a", scheduler: "lcm" })).toEqual({ threshold: 1, steps: 50, invert: true, label: "a", scheduler: "lcm" });
  });

  it("treats null as absent", () => {
    expect(resolveParams(decls, { threshold: null })).toMatchObject({ threshold: 0.3 });
  });

  it.each([
    [{ threshold: 1.5 }, /param threshold must be at most 1, got 1.5/],
    [{ threshold: -0.1 }, /at least 0/],
    [{ threshold: "0.5" }, /param threshold must be a number, got "0.5"/],
    [{ threshold: Number.NaN }, /must be a number/],
    [{ steps: 2.5 }, /param steps must be an integer, got 2.5/],
    [{ steps: 0 }, /at least 1/],
    [{ invert: "yes" }, /param invert must be a boolean/],
    [{ label: 3 }, /param label must be a string/],
    [{ scheduler: "ddim" }, /param scheduler must be one of euler, lcm, got "ddim"/],
    [{ scheduler: "Euler" }, /param scheduler must be one of euler, lcm, got "Euler"/],
    [{ scheduler: 1 }, /param scheduler must be a string, got 1/],
    [{ treshold: 0.5 }, /unknown param treshold; this model takes threshold, steps, invert, label, scheduler/],
  ])("refuses %j", (given, message) => {
    expect(() => resolveParams(decls, given)).toThrow(invalid(message));
  });

  it("refuses any param for a model that declares none", () => {
    expect(() => resolveParams(undefined, { a: 1, b: 2 })).toThrow(invalid(/unknown params a, b; this model takes none/));
  });

  it("names the first 16 of a long enum", () => {
    const many = Array.from({ length: 20 }, (_, i) => `s${i}`);
    expect(() => resolveParams([{ name: "s", type: "string", enum: many }], { s: "x" })).toThrow(invalid(/must be one of s0, s1, .*, s15 \(and 4 more\), got "x"$/));
  });

  it("reports a default that breaks its own declaration", () => {
    expect(() => resolveParams([{ name: "t", type: "number", default: 2, max: 1 }], {})).toThrow(invalid(/the ImageModel's default of param t must be at most 1/));
    expect(() => resolveParams([{ name: "s", type: "string", default: "ddim", enum: ["euler"] }], {})).toThrow(invalid(/the ImageModel's default of param s must be one of euler, got "ddim"/));
  });
});
