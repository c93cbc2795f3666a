import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import type { ModelView } from "../../../client/index.js";
import { useSession } from "../auth/session.js";
import { Empty, ErrorAlert } from "../ui/States.js";
import { ModelSelect } from "./ModelSelect.js";
import { focusFirstError, initialInputs, parseParams, type ParamDecl, type ParamInputs } from "./params.js";
import { ParamsForm } from "./ParamsForm.js";

/** The diffusion params' labels (docs/diffusion.md); any other declared param keeps its name. */
const LABELS: Record<string, string> = {
  prompt: "Prompt", negative_prompt: "Negative prompt", seed: "Seed", steps: "Steps", guidance_scale: "Guidance", width: "Width", height: "Height", scheduler: "Scheduler", preview_every: "Preview every (steps)",
};
/** Image-to-image only: a generation has no input to be strong over. */
const NOT_FOR_GENERATION = new Set(["strength"]);

/** A seed for the dice button: a whole number the pipeline takes (0 to 2^32 - 1). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** The starting values: the declared defaults, and a preview on every step the model allows (the console shows them). */
function startingInputs(params: readonly ParamDecl[]): ParamInputs {
  const inputs = initialInputs(params);
  if ("preview_every" in inputs && (inputs.preview_every === "" || inputs.preview_every === "0")) inputs.preview_every = "1";
  return inputs;
}

/** The "Generate" tab: a text-to-image model, a prompt and the model's other params. */
export function GenerateForm({ models: all }: { models: readonly ModelView[] }) {
  const { api } = useSession();
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const models = all.filter((m) => m.task === "text-to-image");
  const [modelName, setModelName] = useState(() => models.find((m) => m.name === search.get("model"))?.name ?? models[0]?.name ?? "");
  const params = (models.find((m) => m.name === modelName)?.params ?? []).filter((p) => !NOT_FOR_GENERATION.has(p.name));
  const [inputs, setInputs] = useState<ParamInputs>(() => startingInputs(params));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  if (models.length === 0) return <Empty>No text-to-image model is available to your key. An administrator registers one (docs/diffusion.md).</Empty>;

  const set = (name: string, value: string) => setInputs((i) => ({ ...i, [name]: value }));
  const chooseModel = (name: string) => {
    setModelName(name);
    setInputs(startingInputs((models.find((m) => m.name === name)?.params ?? []).filter((p) => !NOT_FOR_GENERATION.has(p.name))));
    setErrors({});
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const parsed = parseParams(params, inputs);
    for (const side of ["width", "height"]) {
      const value = parsed.values[side];
      if (typeof value === "number" && value % 8 !== 0) parsed.errors[side] = `${LABELS[side]} must be a multiple of 8.`;
    }
    setErrors(parsed.errors);
    focusFirstError("gen", parsed.errors);
    if (Object.keys(parsed.errors).length > 0) return;
    setBusy(true);
    try {
      const job = await api.client.submit(null, { model: modelName, params: parsed.values });
      void navigate(`/jobs/${job.id}`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const dice = params.some((p) => p.name === "seed")
    ? { seed: <button type="button" onClick={() => set("seed", String(randomSeed()))}>Random seed</button> }
    : {};
  return (
    <form onSubmit={(e) => void submit(e)} className="stack" noValidate>
      <ModelSelect id="generate-model" models={models} value={modelName} onChange={chooseModel} />
      <ParamsForm idPrefix="gen" params={params} inputs={inputs} errors={errors} onChange={set} labels={LABELS} after={dice} />
      {error !== null && <ErrorAlert error={error} />}
      {busy && <p role="status">Submitting…</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>Generate</button>
      </div>
    </form>
  );
}
