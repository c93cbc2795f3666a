import { useState } from "react";
import { Link } from "react-router";
import type { WebhookDeliveryView } from "../api/types.js";
import { useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { formatTime, shortId } from "../ui/format.js";
import { Empty, ErrorAlert, Loading } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";

/** /admin/webhooks: the tenant's webhook deliveries, newest first, with their last attempt; Redeliver sends one again. */
export function Webhooks() {
  useTitle("Webhooks");
  const { api } = useSession();
  const first = useLoad(() => api.webhookDeliveries(), "deliveries");
  const [more, setMore] = useState<{ items: WebhookDeliveryView[]; cursor: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);

  const cursor = more ? more.cursor : first.status === "ok" ? first.data.next_cursor : null;
  const loadMore = async () => {
    try {
      const page = await api.webhookDeliveries(cursor!);
      setMore({ items: [...(more?.items ?? []), ...page.items], cursor: page.next_cursor });
    } catch (e) {
      setError(e);
    }
  };
  const redeliver = async (d: WebhookDeliveryView) => {
    setError(null);
    setNote(null);
    try {
      await api.redeliver(d.id);
      setNote(`The ${d.event} event of job ${shortId(d.job_id)} will be sent again.`);
      setMore(null);
      first.reload();
    } catch (e) {
      setError(e);
    }
  };

  const items = first.status === "ok" ? [...first.data.items, ...(more?.items ?? [])] : [];
  return (
    <section aria-labelledby="webhooks">
      <h1 id="webhooks">Webhooks</h1>
      <p className="muted">Deliveries of your tenant's job events to their webhook URLs (docs/webhooks.md).</p>
      {error !== null && <ErrorAlert error={error} />}
      <p role="status">{note}</p>
      {first.status === "loading" && <Loading what="deliveries" />}
      {first.status === "error" && <ErrorAlert error={first.error} />}
      {first.status === "ok" && items.length === 0 && <Empty>No deliveries yet: jobs submitted with a webhook URL show up here.</Empty>}
      {items.length > 0 && (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Deliveries">
          <table>
            <thead>
              <tr><th scope="col">Job</th><th scope="col">Event</th><th scope="col">URL</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last attempt</th><th scope="col">Created</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {items.map((d) => {
                const last = d.attempts[d.attempts.length - 1];
                return (
                  <tr key={d.id}>
                    <td><Link to={`/jobs/${d.job_id}`} className="mono">{shortId(d.job_id)}</Link></td>
                    <td>{d.event}</td>
                    <td className="wrap">{d.url}</td>
                    <td><span className={`badge badge-${d.state}`}>{d.state}</span>{d.next_attempt_at && <small className="block">next {formatTime(d.next_attempt_at)}</small>}</td>
                    <td>{d.attempts.length}</td>
                    <td className="wrap">{last ? `${last.outcome}${last.status_code ? ` (HTTP ${last.status_code})` : ""}${last.error ? `: ${last.error}` : ""}` : "—"}</td>
                    <td>{formatTime(d.created_at)}</td>
                    <td><button type="button" onClick={() => void redeliver(d)} aria-label={`Redeliver the ${d.event} event of job ${shortId(d.job_id)}`}>Redeliver</button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {cursor && <button type="button" onClick={() => void loadMore()}>Load more</button>}
    </section>
  );
}
