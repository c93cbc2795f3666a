import type { ReactNode } from "react";
import type { ParamDecl, ParamInputs } from "./params.js";

/** Params whose text may run to several lines: a textarea. */
const MULTILINE = new Set(["prompt", "negative_prompt"]);

/**
 * The fields of a model's declared params (GET /v1/models), each labelled by its name (or by
 * `labels`): numbers with their min and max, booleans as checkboxes, strings with declared
 * choices (`enum`) as selects; `after` puts a control beside a field (the seed's dice).
 */
export function ParamsForm({ params, inputs, errors, onChange, idPrefix = "param", labels = {}, after = {} }: {
  params: readonly ParamDecl[];
  inputs: ParamInputs;
  errors: Record<string, string>;
  onChange: (name: string, value: string) => void;
  idPrefix?: string;
  labels?: Record<string, string>;
  after?: Record<string, ReactNode>;
}) {
  if (params.length === 0) return <p className="muted">This model takes no params.</p>;
  return (
    <div className="params">
      {params.map((p) => {
        const id = `${idPrefix}-${p.name}`;
        const error = errors[p.name];
        const help = [p.description, rangeText(p)].filter(Boolean).join(" · ");
        const described = [help ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
        const common = { id, "aria-describedby": described, "aria-invalid": error ? true : undefined };
        // Left empty, a field takes the model's own default.
        const placeholder = p.default === undefined ? "Default" : undefined;
        const value = inputs[p.name] ?? "";
        const choices = p.type === "string" ? p.enum : undefined;
        let field;
        if (p.type === "boolean") {
          field = <input {...common} type="checkbox" checked={value === "true"} onChange={(e) => onChange(p.name, String(e.target.checked))} />;
        } else if (choices && choices.length > 0) {
          // The declared default is preselected; with none, the model's own default is a choice too.
          field = (
            <select {...common} value={value} onChange={(e) => onChange(p.name, e.target.value)}>
              {p.default === undefined && <option value="">Model default</option>}
              {choices.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          );
        } else if (p.type === "string" && MULTILINE.has(p.name)) {
          field = <textarea {...common} rows={p.name === "prompt" ? 3 : 2} value={value} onChange={(e) => onChange(p.name, e.target.value)} />;
        } else if (p.type === "string") {
          field = <input {...common} type="text" placeholder={placeholder} value={value} onChange={(e) => onChange(p.name, e.target.value)} />;
        } else {
          field = <input {...common} type="number" inputMode={p.type === "integer" ? "numeric" : "decimal"} step={p.type === "integer" ? 1 : "any"} min={p.min} max={p.max} placeholder={placeholder} value={value} onChange={(e) => onChange(p.name, e.target.value)} />;
        }
        return (
          <div key={p.name} className={p.type === "boolean" ? "field field-check" : "field"}>
            <label htmlFor={id}>{labels[p.name] ?? p.name}</label>
            {after[p.name] ? <div className="with-button">{field}{after[p.name]}</div> : field}
            {help && <small id={`${id}-help`} className="muted">{help}</small>}
            {error && <small id={`${id}-error`} className="field-error">{error}</small>}
          </div>
        );
      })}
    </div>
  );
}

function rangeText(p: ParamDecl): string {
  if (p.min !== undefined && p.max !== undefined) return `${p.min} to ${p.max}`;
  if (p.min !== undefined) return `at least ${p.min}`;
  if (p.max !== undefined) return `at most ${p.max}`;
  return "";
}
