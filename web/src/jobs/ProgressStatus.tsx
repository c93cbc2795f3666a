import type { JobProgressEvent, JobView } from "../../../client/index.js";
import { untilText } from "../ui/format.js";

export const STATE_LABELS: Record<JobView["status"], string> = {
  pending: "Pending", queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", canceled: "Canceled",
};

const STAGE_LABELS: Record<JobProgressEvent["stage"], string> = {
  fetch: "Fetching the input", decode: "Reading the image", inference: "Running the model", encode: "Encoding the output", upload: "Storing the output",
};

/**
 * The job's state as it changes (a live region): its place in the queue while it waits, the
 * worker's stage and step while it runs, with the latest preview; why it failed when it did.
 */
export function ProgressStatus({ view, progress }: { view: JobView; progress: JobProgressEvent | null }) {
  const running = view.status === "running";
  const step = running ? progress?.step : undefined;
  return (
    <div className="progress-panel">
      <div role="status" aria-live="polite" className="stack-tight">
        <p className={`state state-${view.status}`}>{STATE_LABELS[view.status]}</p>
        {view.queue && (
          <p>
            {view.queue.position === 0 ? "Next in line" : `Position ${view.queue.position + 1} of ${view.queue.waiting} in the queue`}
            {view.queue.estimated_start_at && `, starts ${untilText(view.queue.estimated_start_at)}`}
          </p>
        )}
        {view.attempts > 1 && <p>Attempt {view.attempts} ({view.attempts - 1} {view.attempts === 2 ? "retry" : "retries"})</p>}
        {view.status === "queued" && view.error && <p className="muted">Waiting: {view.error.reason} — {view.error.message}</p>}
        {running && progress && <p>{STAGE_LABELS[progress.stage]}{step && ` · Step ${step.done} of ${step.total}`}</p>}
      </div>
      {step && <progress max={step.total} value={step.done} aria-label="Steps done" />}
      {running && progress?.preview && <img className="preview" src={progress.preview} alt={`Preview of the image so far${step ? ` (step ${step.done} of ${step.total})` : ""}`} />}
      {view.status === "failed" && (
        <div role="alert" className="alert alert-error">
          <strong>The job failed{view.error ? `: ${view.error.reason}` : ""}</strong>
          {view.error && <p>{view.error.message}</p>}
        </div>
      )}
    </div>
  );
}
