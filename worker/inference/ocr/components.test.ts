import { describe, expect, it } from "vitest";
import { components } from "./components.js";

/** A map from rows of characters: '#' is 0.9, '+' is 0.5 (exact in float32), '.' is 0. */
function map(rows: string[]): { data: Float32Array; width: number; height: number } {
  const width = rows[0]!.length;
  const values: Record<string, number> = { "#": 0.9, "+": 0.5, ".": 0 };
  return { data: Float32Array.from(rows.join(""), (ch) => values[ch]!), width, height: rows.length };
}

describe("components", () => {
  it("finds 8-connected regions in scan order, with each row's extremes", () => {
    const { found, truncated } = components(map([
      "##....#",
      ".#....#",
      "..#....",
      "....###",
    ]), 0.3, 10);
    expect(truncated).toBe(false);
    expect(found.map((c) => c.size)).toEqual([4, 2, 3]);
    // Diagonal neighbours belong together.
    expect(found[0]!.outline).toEqual([[0, 0], [1, 0], [1, 1], [1, 1], [2, 2], [2, 2]]);
    expect(found[2]!.outline).toEqual([[4, 3], [6, 3]]);
  });

  it("binarises strictly above the threshold", () => {
    expect(components(map(["+++", "+#+"]), 0.5, 10).found.map((c) => c.size)).toEqual([1]);
    expect(components(map(["+++", "+#+"]), 0.49, 10).found.map((c) => c.size)).toEqual([6]);
  });

  it("follows a region that winds back up (a U)", () => {
    const { found } = components(map([
      "#...#",
      "#...#",
      "#####",
    ]), 0.3, 10);
    expect(found).toHaveLength(1);
    expect(found[0]!.size).toBe(9);
  });

  it("stops at the limit and says so", () => {
    const { found, truncated } = components(map(["#.#.#.#"]), 0.3, 3);
    expect(found).toHaveLength(3);
    expect(truncated).toBe(true);
    expect(components(map(["#.#.#."]), 0.3, 3).truncated).toBe(false);
  });

  it("finds nothing in an empty map", () => {
    expect(components(map(["....", "...."]), 0.3, 10)).toEqual({ found: [], truncated: false });
  });
});
