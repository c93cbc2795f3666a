import type { ModelView } from "../../../client/index.js";

export type ParamDecl = ModelView["params"][number];
/** What the form holds for each param: the text of its field (a checkbox's "true"/"false"). */
export type ParamInputs = Record<string, string>;

/** Moves focus to the field of the first param with a problem, so its message is read out. */
export function focusFirstError(idPrefix: string, errors: Record<string, string>): void {
  const first = Object.keys(errors)[0];
  if (first !== undefined) document.getElementById(`${idPrefix}-${first}`)?.focus();
}

/** The form's starting values: each param's declared default, else empty (the model's own default). */
export function initialInputs(params: readonly ParamDecl[]): ParamInputs {
  return Object.fromEntries(params.map((p) => [p.name, fieldText(p)]));
}

function fieldText(p: ParamDecl): string {
  const d = p.default;
  if (typeof d === "number" || typeof d === "string" || typeof d === "boolean") return String(d);
  return p.type === "boolean" ? "false" : "";
}

/**
 * The params to send, or the problem with each field that has one (by name). An empty field is
 * left out: the model's default applies.
 */
export function parseParams(params: readonly ParamDecl[], inputs: ParamInputs): { values: Record<string, number | boolean | string>; errors: Record<string, string> } {
  const values: Record<string, number | boolean | string> = {};
  const errors: Record<string, string> = {};
  for (const p of params) {
    const raw = (inputs[p.name] ?? "").trim();
    if (p.type === "boolean") {
      values[p.name] = raw === "true";
      continue;
    }
    if (raw === "") continue;
    if (p.type === "string") {
      values[p.name] = inputs[p.name] ?? "";
      continue;
    }
    const n = Number(raw);
    if (!Number.isFinite(n)) errors[p.name] = `${p.name} must be a number.`;
    else if (p.type === "integer" && !Number.isInteger(n)) errors[p.name] = `${p.name} must be a whole number.`;
    else if (p.min !== undefined && n < p.min) errors[p.name] = `${p.name} must be at least ${p.min}.`;
    else if (p.max !== undefined && n > p.max) errors[p.name] = `${p.name} must be at most ${p.max}.`;
    else values[p.name] = n;
  }
  return { values, errors };
}
