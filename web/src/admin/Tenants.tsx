import { useState, type FormEvent } from "react";
import { useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { formatTime } from "../ui/format.js";
import { ErrorAlert, LoadedList } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";

/** /admin/tenants: every tenant with its namespace and limits; a form to create one. */
export function Tenants() {
  useTitle("Tenants");
  const { api } = useSession();
  const tenants = useLoad(() => api.client.tenants.list(), "tenants");
  const [name, setName] = useState("");
  const [namespace, setNamespace] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setNote(null);
    try {
      const tenant = await api.client.tenants.create({ name: name.trim(), ...(namespace.trim() ? { namespace: namespace.trim() } : {}) });
      setNote(`Tenant ${tenant.name} created in namespace ${tenant.namespace}. Create a key for it on the Keys page.`);
      setName("");
      setNamespace("");
      tenants.reload();
    } catch (e) {
      setError(e);
    }
  };

  const limit = (value: number | null) => (value === null ? "default" : String(value));
  return (
    <section aria-labelledby="tenants">
      <h1 id="tenants">Tenants</h1>
      <form className="card stack" onSubmit={(e) => void create(e)} aria-labelledby="new-tenant">
        <h2 id="new-tenant">New tenant</h2>
        <div className="row">
          <div className="field">
            <label htmlFor="tenant-name">Name</label>
            <input id="tenant-name" required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" maxLength={63} aria-describedby="tenant-name-help" value={name} onChange={(e) => setName(e.target.value)} />
            <small id="tenant-name-help" className="muted">Lower-case letters, digits and '-'.</small>
          </div>
          <div className="field">
            <label htmlFor="tenant-namespace">Namespace (optional)</label>
            <input id="tenant-namespace" maxLength={63} aria-describedby="tenant-namespace-help" value={namespace} onChange={(e) => setNamespace(e.target.value)} />
            <small id="tenant-namespace-help" className="muted">An existing namespace to adopt; by default one is made.</small>
          </div>
        </div>
        {error !== null && <ErrorAlert error={error} />}
        <p role="status">{note}</p>
        <div className="actions"><button type="submit" className="primary" disabled={!name.trim()}>Create tenant</button></div>
      </form>
      <LoadedList list={tenants} what="tenants" empty="No tenants yet.">{(items) => (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Tenant list">
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Namespace</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Rate / min</th><th scope="col">Active jobs</th><th scope="col">Retention (days)</th></tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.namespace}</td>
                  <td>{formatTime(t.created_at)}</td>
                  <td>{t.disabled_at ? `Disabled ${formatTime(t.disabled_at)}` : "Active"}</td>
                  <td>{limit(t.limits.rate_limit_per_minute)}</td>
                  <td>{limit(t.limits.max_active_jobs)}</td>
                  <td>{limit(t.limits.output_retention_days)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}</LoadedList>
    </section>
  );
}
