import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { JobView } from "../../../client/index.js";
import { useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { formatTime, shortId } from "../ui/format.js";
import { Empty, ErrorAlert, Loading } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";
import { filtersOf, listQueryOf, searchOf, type HistoryFilters } from "./historyQuery.js";
import { STATE_LABELS } from "./ProgressStatus.js";

type Page = { status: "loading" } | { status: "error"; error: unknown } | { status: "ok"; jobs: JobView[]; cursor: string | null };

/** /jobs: the tenant's jobs, newest first, filtered by status, model and creation date; "Load more" pages on. */
export function History() {
  useTitle("History");
  const { api } = useSession();
  const [search, setSearch] = useSearchParams();
  const filters = filtersOf(search);
  const key = search.toString();
  const models = useLoad(() => api.client.models().then((m) => m.items.map((i) => i.name), () => [] as string[]), "models");
  const [page, setPage] = useState<Page>({ status: "loading" });
  const [loadingMore, setLoadingMore] = useState(false);

  const fetchPage = async (f: HistoryFilters, cursor?: string) => {
    const list = await api.client.list(listQueryOf(f, cursor));
    return { jobs: list.items, cursor: list.next_cursor };
  };

  useEffect(() => {
    let current = true;
    setPage({ status: "loading" });
    fetchPage(filtersOf(new URLSearchParams(key))).then(
      (p) => current && setPage({ status: "ok", ...p }),
      (error: unknown) => current && setPage({ status: "error", error }),
    );
    return () => {
      current = false;
    };
  }, [api, key]);

  const loadMore = async () => {
    if (page.status !== "ok" || !page.cursor) return;
    setLoadingMore(true);
    try {
      const next = await fetchPage(filters, page.cursor);
      setPage({ status: "ok", jobs: [...page.jobs, ...next.jobs], cursor: next.cursor });
    } catch (error) {
      setPage({ status: "error", error });
    }
    setLoadingMore(false);
  };

  const set = (name: keyof HistoryFilters, value: string) => setSearch(searchOf({ ...filters, [name]: value }), { replace: true });
  const modelNames = models.status === "ok" ? models.data : [];
  return (
    <section aria-labelledby="history">
      <h1 id="history">History</h1>
      <form className="filters card" role="search" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={filters.status} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any</option>
            {Object.entries(STATE_LABELS).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-model">Model</label>
          <select id="filter-model" value={filters.model} onChange={(e) => set("model", e.target.value)}>
            <option value="">Any</option>
            {[...new Set([...modelNames, ...(filters.model ? [filters.model] : [])])].map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-from">From</label>
          <input id="filter-from" type="date" value={filters.from} max={filters.to || undefined} onChange={(e) => set("from", e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="filter-to">To</label>
          <input id="filter-to" type="date" value={filters.to} min={filters.from || undefined} onChange={(e) => set("to", e.target.value)} />
        </div>
        {key && <button type="button" className="link" onClick={() => setSearch(new URLSearchParams(), { replace: true })}>Clear filters</button>}
      </form>
      {page.status === "loading" && <Loading what="jobs" />}
      {page.status === "error" && <ErrorAlert error={page.error} />}
      {page.status === "ok" && page.jobs.length === 0 && (
        <Empty>{key ? "No job matches these filters." : <>No jobs yet. <Link to="/new">Start one</Link>.</>}</Empty>
      )}
      {page.status === "ok" && page.jobs.length > 0 && (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Jobs">
          <table>
            <thead>
              <tr><th scope="col">Job</th><th scope="col">Model</th><th scope="col">Status</th><th scope="col">Input</th><th scope="col">Created</th><th scope="col">Finished</th></tr>
            </thead>
            <tbody>
              {page.jobs.map((job) => (
                <tr key={job.id}>
                  <td><Link to={`/jobs/${job.id}`} className="mono">{shortId(job.id)}</Link></td>
                  <td>{job.model}</td>
                  <td><span className={`badge badge-${job.status}`}>{STATE_LABELS[job.status]}</span></td>
                  <td className="wrap">{job.batch ? `batch of ${job.batch.total ?? "?"}` : (job.input.filename ?? "—")}</td>
                  <td>{formatTime(job.created_at)}</td>
                  <td>{formatTime(job.finished_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.status === "ok" && page.cursor && (
        <button type="button" onClick={() => void loadMore()} disabled={loadingMore}>{loadingMore ? "Loading…" : "Load more"}</button>
      )}
    </section>
  );
}
