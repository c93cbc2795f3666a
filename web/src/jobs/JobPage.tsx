import { useState } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { FINISHED, type JobSummary, type JobView } from "../../../client/index.js";
import type { Api } from "../api/api.js";
import type { JobFile } from "../api/types.js";
import { useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { formatBytes, formatTime, shortId } from "../ui/format.js";
import { ErrorAlert, Loading } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";
import { randomSeed } from "./GenerateForm.js";
import { BatchItems } from "./BatchItems.js";
import { ProgressStatus } from "./ProgressStatus.js";
import { ResultView } from "./ResultView.js";
import { useJobFeed } from "./useJobFeed.js";

/** /jobs/:id: the job live (state, queue, steps, preview), then its result, timeline and details. */
export function JobPage() {
  const { id = "" } = useParams();
  const { api } = useSession();
  const location = useLocation();
  const feed = useJobFeed(api, id);
  // A model's task tells a mask from an image; a key without models:read just gets no overlay toggle.
  const models = useLoad(() => api.client.models().catch(() => ({ items: [] })), "models");
  const [output, setOutput] = useState<JobFile | null>(null);
  const view = feed.view;
  useTitle(view ? `${view.model} ${shortId(view.id)}` : "Job");

  if (feed.error) return <section><h1>Job {shortId(id)}</h1><ErrorAlert error={feed.error} /></section>;
  if (!view) return <Loading what="the job" />;

  const state = location.state as { file?: unknown } | null;
  const localInput = state?.file instanceof Blob ? state.file : null;
  const model = models.status === "ok" ? models.data.items.find((m) => m.name === view.model) : undefined;
  // A single job with no input URI is a text-to-image one (the job view's input.uri), even for a key without models:read.
  const generation = model?.task === "text-to-image" || (!view.batch && view.input.uri === null);
  return (
    <article className="job" aria-labelledby="job-title">
      <h1 id="job-title">{view.model} <span className="muted mono">{shortId(view.id)}</span></h1>
      <ProgressStatus view={view} progress={feed.progress} />
      <JobActions view={view} output={output} generation={generation} onCanceled={feed.replace} />
      {view.status === "succeeded" && !view.batch && (
        <section aria-labelledby="result">
          <h2 id="result">Result</h2>
          <ResultView api={api} view={view} localInput={localInput} mask={model?.task === "image-to-mask" || model?.output?.kind === "mask"} onOutput={setOutput} />
        </section>
      )}
      {view.batch && <BatchItems api={api} view={view} />}
      <div className="columns">
        <Timeline view={view} />
        <Details view={view} />
      </div>
    </article>
  );
}

/** Download, Copy link, Run again, Another seed (a generation) and Cancel (while it runs). */
function JobActions({ view, output, generation, onCanceled }: { view: JobView; output: JobFile | null; generation: boolean; onCanceled: (view: JobView) => void }) {
  const { api } = useSession();
  const navigate = useNavigate();
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const act = async (what: () => Promise<void>) => {
    setError(null);
    setNote(null);
    try {
      await what();
    } catch (e) {
      setError(e);
    }
  };
  const download = () => act(async () => {
    const file = view.batch ? await manifestFile(api, view.id) : (output ?? (await api.jobFile(view.id, "output")));
    const url = URL.createObjectURL(file.blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = file.filename;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  const copyLink = () => act(async () => {
    await navigator.clipboard.writeText(window.location.href);
    setNote("Link copied.");
  });
  const again = (seed?: number) => act(async () => {
    const job = await resubmit(api, view, seed);
    void navigate(`/jobs/${job.id}`);
  });
  const cancel = () => act(async () => onCanceled(await api.client.cancel(view.id)));

  const finished = FINISHED.includes(view.status);
  // A batch's inputs are its items': it is not sent again from here.
  const repeatable = finished && !view.batch && (view.input.uri !== null || generation);
  return (
    <div className="stack-tight">
      <div className="actions" role="group" aria-label="Job actions">
        {view.status === "succeeded" && <button type="button" className="primary" onClick={() => void download()}>{view.batch ? "Download manifest" : "Download"}</button>}
        <button type="button" onClick={() => void copyLink()}>Copy link</button>
        {repeatable && <button type="button" onClick={() => void again()}>Run again</button>}
        {repeatable && generation && <button type="button" onClick={() => void again(randomSeed())}>Another seed</button>}
        {finished && !repeatable && <Link to={`/new?model=${encodeURIComponent(view.model)}${generation ? "&tab=generate" : ""}`}>New job with this model</Link>}
        {!finished && <button type="button" onClick={() => void cancel()}>Cancel job</button>}
        <span role="status">{note}</span>
      </div>
      {error !== null && <ErrorAlert error={error} />}
    </div>
  );
}

/**
 * Run again (and Another seed, with `seed`): the job's model, input URI and params as the job
 * view gives them, submitted as a new job (an upload: input stays valid while the job is kept).
 */
function resubmit(api: Api, view: JobView, seed?: number): Promise<JobSummary> {
  const params = { ...(view.params ?? {}), ...(seed === undefined ? {} : { seed }) };
  return api.client.submit(view.input.uri === null ? null : { uri: view.input.uri }, { model: view.model, params });
}

/** A finished batch's manifest (one JSON result per line), as a file to save. */
async function manifestFile(api: Api, id: string): Promise<JobFile> {
  const text = await api.client.manifest(id);
  return { blob: new Blob([text], { type: "application/x-ndjson" }), contentType: "application/x-ndjson", filename: `${id}-manifest.ndjson` };
}

function Timeline({ view }: { view: JobView }) {
  const end = view.status === "failed" ? "Failed" : view.status === "canceled" ? "Canceled" : "Finished";
  return (
    <section aria-labelledby="timeline">
      <h2 id="timeline">Timeline</h2>
      <ol className="timeline">
        <li><span>Created</span> <time dateTime={view.created_at}>{formatTime(view.created_at)}</time></li>
        <li><span>Queued</span> {view.queued_at ? <time dateTime={view.queued_at}>{formatTime(view.queued_at)}</time> : "—"}</li>
        <li><span>Started</span> {view.started_at ? <time dateTime={view.started_at}>{formatTime(view.started_at)}</time> : "—"}</li>
        <li><span>{end}</span> {view.finished_at ? <time dateTime={view.finished_at}>{formatTime(view.finished_at)}</time> : "—"}</li>
        {view.attempts > 1 && <li><span>Retries</span> {view.attempts - 1} (attempts: {view.attempts})</li>}
      </ol>
    </section>
  );
}

function Details({ view }: { view: JobView }) {
  const out = view.output;
  const gpu = view.usage?.gpu_seconds ?? null;
  const run = view.usage?.run_seconds ?? null;
  return (
    <section aria-labelledby="details">
      <h2 id="details">Details</h2>
      <dl className="details">
        <dt>Job</dt><dd className="mono wrap">{view.id}</dd>
        <dt>Model</dt><dd>{view.model}</dd>
        <dt>ImageJob</dt><dd className="mono wrap">{view.imagejob.namespace}/{view.imagejob.name}</dd>
        <dt>Input</dt>
        <dd className="wrap">
          {view.batch ? `a batch of ${view.batch.total ?? "?"} images` : (view.input.filename ?? (view.input.uri ? "" : "—"))}
          {view.input.uri && <small className="block mono">{view.input.uri}</small>}
        </dd>
        <dt>Output</dt>
        <dd>
          {out ? [out.content_type, out.width && out.height ? `${out.width} × ${out.height}` : null, out.bytes !== null ? formatBytes(out.bytes) : null, out.cached ? "reused from an equal earlier job" : null].filter(Boolean).join(", ") : "—"}
          {out?.expired_at && <small className="block">Deleted by retention on {formatTime(out.expired_at)}</small>}
          {out?.expires_at && <small className="block">Kept until {formatTime(out.expires_at)}</small>}
          {out?.notes.map((n) => <small key={n} className="block">{n}</small>)}
        </dd>
        <dt>Error</dt><dd>{view.error ? `${view.error.reason}: ${view.error.message}` : "—"}</dd>
        <dt>GPU seconds</dt><dd>{gpu === null ? "—" : `${seconds(gpu)} s`}{run !== null && <small className="block">run time {seconds(run)} s</small>}</dd>
      </dl>
    </section>
  );
}

/** Seconds to one decimal, and to three below a tenth (a fast model's run). */
function seconds(value: number): string {
  return value > 0 && value < 0.1 ? value.toFixed(3) : value.toFixed(1);
}
