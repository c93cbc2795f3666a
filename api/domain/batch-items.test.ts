import { describe, expect, it } from "vitest";
import { decodeItemCursor, encodeItemCursor, parseManifest } from "./batch-items.js";
import { InvalidRequestError } from "./errors.js";

describe("batch item cursors", () => {
  it("round-trip an index and refuse anything else", () => {
    expect(decodeItemCursor(encodeItemCursor(0))).toBe(0);
    expect(decodeItemCursor(encodeItemCursor(9_999))).toBe(9_999);
    for (const bad of ["", "bm9wZQ", Buffer.from("item:-1").toString("base64url"), Buffer.from("item:1e3").toString("base64url"), Buffer.from("item:12345678901").toString("base64url")]) {
      expect(() => decodeItemCursor(bad), bad).toThrow(InvalidRequestError);
    }
  });
});

describe("parseManifest", () => {
  it("reads the results in index order, skipping blank lines and lines that are not results", () => {
    const line = (index: number) => JSON.stringify({ index, input: `upload:uploads/ns/${index}.png`, phase: "Succeeded", attempts: 1, finishedAt: "2026-12-01T00:00:00Z" });
    const text = [line(2), "", line(0), "{not json", JSON.stringify({ hello: 1 }), line(1), ""].join("\n");
    expect(parseManifest(text).map((r) => r.index)).toEqual([0, 1, 2]);
    expect(parseManifest("")).toEqual([]);
  });
});
