import { useState } from "react";
import type { BatchItemView, JobView } from "../../../client/index.js";
import type { Api } from "../api/api.js";
import { formatTime } from "../ui/format.js";
import { Empty, ErrorAlert, Loading } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";

/** A batch job's items (GET /v1/jobs/:id/items), loaded again as its counts move; "Load more" for the next page. */
export function BatchItems({ api, view }: { api: Api; view: JobView }) {
  const batch = view.batch!;
  const counts = [batch.total, batch.succeeded, batch.failed, batch.canceled].join("/");
  const first = useLoad(() => api.client.items(view.id, { limit: 100 }), `${view.id}:${counts}`);
  const [more, setMore] = useState<{ items: BatchItemView[]; cursor: string | null; error?: unknown } | null>(null);

  if (first.status === "loading") return <Loading what="the batch's items" />;
  if (first.status === "error") return <ErrorAlert error={first.error} />;
  const items = [...first.data.items, ...(more?.items ?? [])];
  const cursor = more ? more.cursor : first.data.next_cursor;
  const loadMore = async () => {
    try {
      const page = await api.client.items(view.id, { limit: 100, cursor: cursor! });
      setMore({ items: [...(more?.items ?? []), ...page.items], cursor: page.next_cursor });
    } catch (error) {
      setMore({ items: more?.items ?? [], cursor, error });
    }
  };

  return (
    <section aria-labelledby="batch-items">
      <h2 id="batch-items">Items</h2>
      <p>
        {batch.succeeded} succeeded, {batch.failed} failed, {batch.running} running, {batch.canceled} canceled
        {batch.total !== null && ` of ${batch.total}`}
      </p>
      {items.length === 0 ? <Empty>No items listed yet.</Empty> : (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Batch items">
          <table>
            <thead>
              <tr><th scope="col">#</th><th scope="col">Input</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Finished</th><th scope="col">Output</th></tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.index}>
                  <td>{item.index + 1}</td>
                  <td className="wrap">{item.filename ?? item.input}</td>
                  <td><span className={`badge badge-${item.status}`}>{item.status}</span>{item.error && <small className="block">{item.error.reason}: {item.error.message}</small>}</td>
                  <td>{item.attempts ?? "—"}</td>
                  <td>{formatTime(item.finished_at)}</td>
                  <td>{item.output?.url ? <a href={item.output.url} target="_blank" rel="noreferrer">Open item {item.index + 1}</a> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more?.error !== undefined && <ErrorAlert error={more.error} />}
      {cursor && <button type="button" onClick={() => void loadMore()}>Load more</button>}
    </section>
  );
}
