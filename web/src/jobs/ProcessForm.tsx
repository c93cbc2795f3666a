import { useEffect, useState, type DragEvent, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import type { ModelView } from "../../../client/index.js";
import { useSession } from "../auth/session.js";
import { formatBytes } from "../ui/format.js";
import { Empty, ErrorAlert } from "../ui/States.js";
import { ACCEPT, checkFile, type FileCheck } from "./files.js";
import { ModelSelect } from "./ModelSelect.js";
import { focusFirstError, initialInputs, parseParams, type ParamInputs } from "./params.js";
import { ParamsForm } from "./ParamsForm.js";

/** The "Process images" tab: images (picked, dropped or pasted), a model and its params; several images make one batch job. */
export function ProcessForm({ models: all }: { models: readonly ModelView[] }) {
  const { api, me } = useSession();
  const { max_upload_bytes: maxBytes, max_form_images: maxImages } = me.limits;
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const models = all.filter((m) => m.task !== "text-to-image");
  const [modelName, setModelName] = useState(() => models.find((m) => m.name === search.get("model"))?.name ?? models[0]?.name ?? "");
  const model = models.find((m) => m.name === modelName);
  const [inputs, setInputs] = useState<ParamInputs>(() => initialInputs(model?.params ?? []));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [files, setFiles] = useState<FileCheck[]>([]);
  const [dragging, setDragging] = useState(false);
  const [progress, setProgress] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const add = async (list: Iterable<File>) => {
    const checked = await Promise.all([...list].map((f) => checkFile(f, maxBytes)));
    setFiles((current) => [...current, ...checked]);
  };

  // An image pasted anywhere on the page (a screenshot) joins the list.
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const pasted = [...(event.clipboardData?.files ?? [])];
      if (pasted.length === 0) return;
      event.preventDefault();
      void add(pasted);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  }, []);

  if (models.length === 0) return <Empty>No image model is available to your key. An administrator adds models (ImageModel resources or POST /v1/models).</Empty>;

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void add(event.dataTransfer.files);
  };

  const chooseModel = (name: string) => {
    setModelName(name);
    setInputs(initialInputs(models.find((m) => m.name === name)?.params ?? []));
    setErrors({});
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const parsed = parseParams(model?.params ?? [], inputs);
    setErrors(parsed.errors);
    focusFirstError("param", parsed.errors);
    const ok = files.filter((f) => f.ok);
    if (Object.keys(parsed.errors).length > 0 || ok.length === 0 || ok.length !== files.length || ok.length > maxImages) return;
    setProgress(ok.length > 1 ? `Sending ${ok.length} images…` : "Submitting…");
    try {
      const job = await api.submitImages(ok.map((f) => f.file), modelName, parsed.values);
      void navigate(`/jobs/${job.id}`, { state: ok.length === 1 ? { file: ok[0]!.file } : null });
    } catch (e) {
      setError(e);
      setProgress(null);
    }
  };

  const bad = files.filter((f) => !f.ok);
  return (
    <form onSubmit={(e) => void submit(e)} className="stack" noValidate>
      <div className={`dropzone${dragging ? " dragging" : ""}`} onDragOver={(e) => { e.preventDefault(); setDragging(true); }} onDragLeave={() => setDragging(false)} onDrop={onDrop}>
        <label htmlFor="images">Images</label>
        <input id="images" type="file" multiple accept={ACCEPT} aria-describedby="images-help" onChange={(e) => { void add(e.target.files ?? []); e.target.value = ""; }} />
        <p id="images-help" className="muted">Drop images here, choose them, or paste one. PNG, JPEG, WebP, GIF, TIFF or AVIF; several images make one batch job.</p>
      </div>
      {bad.length > 0 && (
        <div role="alert" className="alert alert-error">
          <strong>{bad.length === 1 ? "This file can't be used" : "These files can't be used"}</strong>
          <ul>{bad.map((f, i) => <li key={i}>{!f.ok && f.message}</li>)}</ul>
        </div>
      )}
      {files.length > maxImages && (
        <div role="alert" className="alert alert-error">
          <strong>Too many images</strong>: {files.length} chosen, and one batch job takes at most {maxImages}. Remove some, or submit the rest as another job.
        </div>
      )}
      {files.length > 0 && (
        <ul className="file-list" aria-label="Chosen images">
          {files.map((f, i) => (
            <li key={i} className={f.ok ? "" : "bad"}>
              <span>{f.file.name}</span> <span className="muted">{formatBytes(f.file.size)}</span>
              <button type="button" className="link" onClick={() => setFiles((all) => all.filter((_, j) => j !== i))} aria-label={`Remove ${f.file.name}`}>Remove</button>
            </li>
          ))}
        </ul>
      )}
      <ModelSelect id="process-model" models={models} value={modelName} onChange={chooseModel} />
      {model && <ParamsForm params={model.params} inputs={inputs} errors={errors} onChange={(name, value) => setInputs((i) => ({ ...i, [name]: value }))} />}
      {error !== null && <ErrorAlert error={error} />}
      {progress && <p role="status">{progress}</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={progress !== null || files.length === 0 || bad.length > 0 || files.length > maxImages}>Run</button>
        {files.length > 1 && <span className="muted">{files.length} images: one batch job</span>}
      </div>
    </form>
  );
}
