/** A recogniser's text for one line, and how sure it is. */
export interface Decoded {
  text: string;
  /** The mean probability of the characters kept; 0 when none was. */
  confidence: number;
}

/**
 * The classes of a PaddleOCR recogniser from its keys file: the blank (CTC's "no character")
 * first, one class per line of the file, and the space last (use_space_char).
 */
export function charsetClasses(keys: Buffer | string): string[] {
  const lines = keys.toString("utf8").split("\n").map((l) => l.replace(/\r$/, ""));
  if (lines.at(-1) === "") lines.pop();
  return ["", ...lines, " "];
}

/**
 * Greedy CTC decoding of one line: the most probable class at each step, repeats collapsed,
 * blanks (class 0) dropped, the rest mapped to characters. `probs` holds `steps` rows of
 * `classes.length` probabilities (the recogniser's softmax), starting at `offset`.
 */
export function ctcGreedy(probs: Float32Array, offset: number, steps: number, classes: readonly string[]): Decoded {
  const n = classes.length;
  let text = "";
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const row = offset + t * n;
    let best = 0;
    let max = probs[row]!;
    for (let k = 1; k < n; k++) {
      const p = probs[row + k]!;
      if (p > max) {
        max = p;
        best = k;
      }
    }
    if (best !== 0 && best !== previous) {
      text += classes[best]!;
      sum += max;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept ? sum / kept : 0 };
}
