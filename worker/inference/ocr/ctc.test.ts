import { describe, expect, it } from "vitest";
import { charsetClasses, ctcGreedy } from "./ctc.js";

const CLASSES = ["", "a", "b", "l", " "];

/** One row per step: `best` gets p, the rest share 1 - p. */
function steps(rows: Array<[best: number, p: number]>): Float32Array {
  const n = CLASSES.length;
  const out = new Float32Array(rows.length * n);
  rows.forEach(([best, p], t) => {
    for (let k = 0; k < n; k++) out[t * n + k] = k === best ? p : (1 - p) / (n - 1);
  });
  return out;
}

describe("ctcGreedy", () => {
  it("collapses repeats, drops blanks and maps the rest to characters", () => {
    // a a _ b b _ _ l _ l → "abll": a blank between two l's keeps both.
    const probs = steps([[1, 0.9], [1, 0.8], [0, 0.9], [2, 0.6], [2, 0.99], [0, 0.9], [0, 0.9], [3, 0.7], [0, 0.9], [3, 0.5]]);
    const { text, confidence } = ctcGreedy(probs, 0, 10, CLASSES);
    expect(text).toBe("abll");
    // The first step of each kept run: 0.9, 0.6, 0.7, 0.5.
    expect(confidence).toBeCloseTo((0.9 + 0.6 + 0.7 + 0.5) / 4, 6);
  });

  it("keeps the space class", () => {
    expect(ctcGreedy(steps([[1, 0.9], [4, 0.9], [2, 0.9]]), 0, 3, CLASSES).text).toBe("a b");
  });

  it("reads from an offset (one line of a batch)", () => {
    const probs = steps([[1, 0.9], [0, 0.9], [2, 0.9], [3, 0.8]]);
    const { text, confidence } = ctcGreedy(probs, 2 * CLASSES.length, 2, CLASSES);
    expect(text).toBe("bl");
    expect(confidence).toBeCloseTo(0.85, 6);
  });

  it("gives empty text and confidence 0 for all blanks", () => {
    expect(ctcGreedy(steps([[0, 0.99], [0, 0.99]]), 0, 2, CLASSES)).toEqual({ text: "", confidence: 0 });
  });
});

describe("charsetClasses", () => {
  it("puts the blank first and the space last, one class per line", () => {
    expect(charsetClasses(Buffer.from("a\nb\r\n中\n"))).toEqual(["", "a", "b", "中", " "]);
    expect(charsetClasses("a\nb")).toEqual(["", "a", "b", " "]);
  });
});
