import type { ModelView } from "../../../client/index.js";

/** The "Model" select: each model with its task and licence. */
export function ModelSelect({ id, models, value, onChange }: { id: string; models: readonly ModelView[]; value: string; onChange: (name: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>Model</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required>
        {models.map((m) => (
          <option key={m.name} value={m.name}>
            {m.name} — {m.task}, {m.license ?? "licence not stated"}
          </option>
        ))}
      </select>
    </div>
  );
}
