import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "./errors.js";
import { canonicalJson, MAX_CANONICAL_DEPTH, requestHash } from "./request-hash.js";

describe("requestHash", () => {
  const base = { model: "resize-x2", input: { uri: "s3://b/cat.png" }, params: { strength: 0.5, tile: { size: 256, overlap: 16 } } };

  it("does not depend on the order of keys", () => {
    const reordered = { params: { tile: { overlap: 16, size: 256 }, strength: 0.5 }, input: { uri: "s3://b/cat.png" }, model: "resize-x2" };
    expect(requestHash(reordered)).toBe(requestHash(base));
    expect(canonicalJson({ b: [1, { d: 1, c: undefined }], a: null })).toBe('{"a":null,"b":[1,{"d":1}]}');
  });

  it("differs when anything asked for differs", () => {
    const h = requestHash(base);
    expect(requestHash({ ...base, params: { ...base.params, strength: 0.6 } })).not.toBe(h);
    expect(requestHash({ ...base, output: { format: "webp" } })).not.toBe(h);
    expect(requestHash({ ...base, startDeadlineSeconds: 5 })).not.toBe(h);
    expect(requestHash({ ...base, input: { uri: "s3://b/dog.png" } })).not.toBe(h);
  });

  it("compares uploads by their content, not by the key each upload gets", () => {
    const a = requestHash({ ...base, input: { uri: "upload:uploads/ns/1.png" } }, "aa");
    expect(requestHash({ ...base, input: { uri: "upload:uploads/ns/2.png" } }, "aa")).toBe(a);
    expect(requestHash({ ...base, input: { uri: "upload:uploads/ns/1.png" } }, "bb")).not.toBe(a);
  });
});

describe("canonicalJson on hostile nesting", () => {
  it("refuses a value nested 100,000 deep with InvalidRequestError, not a stack overflow", () => {
    const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`) as unknown;
    expect(() => requestHash({ model: "m", input: { uri: "s3://b/k" }, params: { p: deep } })).toThrow(InvalidRequestError);
    let nested: unknown = 1;
    for (let i = 0; i < MAX_CANONICAL_DEPTH; i++) nested = { a: nested };
    expect(canonicalJson(nested)).toMatch(/^\{"a":/);
    expect(() => canonicalJson({ a: nested })).toThrow(InvalidRequestError);
    expect(canonicalJson({ a: { b: [1] } })).toBe('{"a":{"b":[1]}}');
  });
});
