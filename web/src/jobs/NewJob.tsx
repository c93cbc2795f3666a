import { useRef, type KeyboardEvent } from "react";
import { useSearchParams } from "react-router";
import { useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { ErrorAlert, Loading } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";
import { GenerateForm } from "./GenerateForm.js";
import { ProcessForm } from "./ProcessForm.js";

const TABS = [
  { id: "process", label: "Process images" },
  { id: "generate", label: "Generate" },
] as const;

/** /new: process images with a model, or generate one from a prompt; the tab is in the URL (?tab=generate). */
export function NewJob() {
  useTitle("New job");
  const { api } = useSession();
  const [search, setSearch] = useSearchParams();
  const models = useLoad(() => api.client.models(), "models");
  const tab = search.get("tab") === "generate" ? "generate" : "process";
  const tabRefs = useRef<Array<HTMLButtonElement | null>>([]);

  const select = (id: string, focus = false) => {
    setSearch((s) => {
      const next = new URLSearchParams(s);
      if (id === "process") next.delete("tab");
      else next.set("tab", id);
      return next;
    }, { replace: true });
    if (focus) tabRefs.current[TABS.findIndex((t) => t.id === id)]?.focus();
  };
  // The tabs pattern: arrows move between tabs, Home and End to the first and last.
  const onKeyDown = (event: KeyboardEvent) => {
    const at = TABS.findIndex((t) => t.id === tab);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    select(TABS[(to + TABS.length) % TABS.length]!.id, true);
  };

  return (
    <section aria-labelledby="new-job">
      <h1 id="new-job">New job</h1>
      <div role="tablist" aria-label="Kind of job" className="tabs" onKeyDown={onKeyDown}>
        {TABS.map((t, i) => (
          <button key={t.id} ref={(el) => { tabRefs.current[i] = el; }} type="button" role="tab" id={`tab-${t.id}`} aria-controls={`panel-${t.id}`} aria-selected={tab === t.id} tabIndex={tab === t.id ? 0 : -1} onClick={() => select(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="card">
        {models.status === "loading" && <Loading what="models" />}
        {models.status === "error" && <ErrorAlert error={models.error} action={<button type="button" onClick={models.reload}>Try again</button>} />}
        {models.status === "ok" && (tab === "process" ? <ProcessForm models={models.data.items} /> : <GenerateForm models={models.data.items} />)}
      </div>
    </section>
  );
}
