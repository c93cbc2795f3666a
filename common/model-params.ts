import type { ModelParam } from "./crd-types.js";
import { JobFailure } from "./errors.js";

export type ParamValue = number | boolean | string;

/**
 * A job's params checked against the ImageModel's declarations (type, min, max, enum), with defaults
 * filled in. Unknown names are refused rather than ignored, so a typo is not silently a no-op.
 * A param with neither a value nor a default is left out; the model decides if it needs it.
 */
export function resolveParams(declared: readonly ModelParam[] | undefined, given: Record<string, unknown> | undefined): Record<string, ParamValue> {
  const decls = declared ?? [];
  const known = new Set(decls.map((d) => d.name));
  const unknown = Object.keys(given ?? {}).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    const allowed = decls.length ? `; this model takes ${[...known].join(", ")}` : "; this model takes none";
    throw new JobFailure("InvalidParams", `unknown param${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}${allowed}`);
  }
  const out: Record<string, ParamValue> = {};
  for (const decl of decls) {
    const raw = given && Object.hasOwn(given, decl.name) ? given[decl.name] : undefined;
    if (raw !== undefined && raw !== null) out[decl.name] = check(decl, raw, "");
    else if (decl.default !== undefined && decl.default !== null) out[decl.name] = check(decl, decl.default, "the ImageModel's default of ");
  }
  return out;
}

function check(decl: ModelParam, value: unknown, what: string): ParamValue {
  const fail = (why: string): JobFailure => new JobFailure("InvalidParams", `${what}param ${decl.name} ${why}`);
  switch (decl.type) {
    case "boolean":
      if (typeof value !== "boolean") throw fail(`must be a boolean, got ${shown(value)}`);
      return value;
    case "string":
      if (typeof value !== "string") throw fail(`must be a string, got ${shown(value)}`);
      if (decl.enum && !decl.enum.includes(value)) throw fail(`must be one of ${listed(decl.enum)}, got ${shown(value)}`);
      return value;
    case "integer":
    case "number":
      return checkNumber(decl, value, fail);
  }
}

function checkNumber(decl: ModelParam, value: unknown, fail: (why: string) => JobFailure): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw fail(`must be a ${decl.type}, got ${shown(value)}`);
  if (decl.type === "integer" && !Number.isInteger(value)) throw fail(`must be an integer, got ${value}`);
  if (decl.min !== undefined && value < decl.min) throw fail(`must be at least ${decl.min}, got ${value}`);
  if (decl.max !== undefined && value > decl.max) throw fail(`must be at most ${decl.max}, got ${value}`);
  return value;
}

/** The allowed values, the first 16 of a longer list. */
function listed(values: readonly string[]): string {
  const first = values.slice(0, 16).join(", ");
  return values.length > 16 ? `${first} (and ${values.length - 16} more)` : first;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
