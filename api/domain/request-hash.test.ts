import { describe, expect, it } from "vitest";
import { canonicalJson, requestHash } from "./request-hash.js";

describe("requestHash", () => {
  const base = { model: "upscale-x2", input: { uri: "s3://b/cat.png" }, params: { strength: 0.5, tile: { size: 256, overlap: 16 } } };

  it("does not depend on the order of keys", () => {
    const reordered = { params: { tile: { overlap: 16, size: 256 }, strength: 0.5 }, input: { uri: "s3://b/cat.png" }, model: "upscale-x2" };
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
