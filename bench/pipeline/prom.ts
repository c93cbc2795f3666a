/** One series of a Prometheus text page: its name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of `names` on a Prometheus text page (all when `names` is empty). */
export function parseMetrics(text: string, names: readonly string[] = []): Sample[] {
  const wanted = new Set(names);
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m || (wanted.size && !wanted.has(m[1]!))) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** after − before per series (label sets compared as written); series absent before count from 0. */
export function diffSamples(before: Sample[], after: Sample[]): Sample[] {
  const key = (s: Sample) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
  const old = new Map(before.map((s) => [key(s), s.value]));
  return after.map((s) => ({ ...s, value: s.value - (old.get(key(s)) ?? 0) })).filter((s) => s.value !== 0);
}

/** Sums `samples` by the value `by` gives each (a grouping key); groups in descending order. */
export function sumBy(samples: Sample[], by: (s: Sample) => string | undefined): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const s of samples) {
    const k = by(s);
    if (k !== undefined) sums.set(k, (sums.get(k) ?? 0) + s.value);
  }
  return [...sums].sort((a, b) => b[1] - a[1]);
}
