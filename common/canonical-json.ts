/**
 * JSON with object keys sorted at every depth, and undefined members left out, so equal values
 * hash equal (Idempotency-Key's request hash, the worker's result cache). Past `maxDepth` it
 * throws what `tooDeep` makes: a bound, so hostile nesting is an error, not a stack overflow.
 */
export function canonicalJson(value: unknown, maxDepth: number, tooDeep: () => Error, depth = 0): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (depth >= maxDepth) throw tooDeep();
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v ?? null, maxDepth, tooDeep, depth + 1)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, maxDepth, tooDeep, depth + 1)}`).join(",")}}`;
}
