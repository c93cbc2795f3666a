/** One sample of a Prometheus text page. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** The samples of the metrics named in `names` (all when absent) on a text exposition page. */
export function parseSamples(text: string, names?: readonly string[]): Sample[] {
  const wanted = names && new Set(names);
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m || (wanted && !wanted.has(m[1]!))) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? "").matchAll(LABEL)) labels[key!] = value!.replace(/\\(.)/g, "$1");
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sums `name`'s samples by the value of one label (or by a function of all of them). */
export function sumBy(samples: readonly Sample[], name: string, key: string | ((labels: Record<string, string>) => string)): Map<string, number> {
  const by = typeof key === "string" ? (l: Record<string, string>) => l[key] ?? "" : key;
  const sums = new Map<string, number>();
  for (const s of samples) if (s.name === name) sums.set(by(s.labels), (sums.get(by(s.labels)) ?? 0) + s.value);
  return sums;
}

/** after − before for every key (counters; a key new in `after` counts from 0). */
export function delta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}
