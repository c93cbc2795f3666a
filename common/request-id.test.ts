import { describe, expect, it } from "vitest";
import { acceptRequestId, requestIdFor } from "./request-id.js";

describe("request ids", () => {
  it("accepts a caller's id of up to 128 letters, digits and . _ : -", () => {
    for (const id of ["abc", "0b6f2a52-7c1e-4d2b-9a53-3f1c2d4e5f60", "trace:01HX.part_2", "a".repeat(128)]) expect(acceptRequestId(id)).toBe(id);
  });

  it("refuses anything else, so a log line or header cannot be bent by it", () => {
    for (const id of ["", "a".repeat(129), "two words", "line\nbreak", '"quoted"', "é", "a/b", undefined, 42]) expect(acceptRequestId(id)).toBeUndefined();
  });

  it("makes a UUID when the caller's id is absent or refused", () => {
    expect(requestIdFor("mine-1")).toBe("mine-1");
    expect(requestIdFor("not ok")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(requestIdFor(undefined)).not.toBe(requestIdFor(undefined));
  });
});
