import { useState, type FormEvent } from "react";
import type { CreatedKey, KeyView } from "../../../client/index.js";
import type { Scope } from "../api/types.js";
import { hasScope, useSession } from "../auth/session.js";
import { useTitle } from "../Layout.js";
import { formatTime } from "../ui/format.js";
import { ErrorAlert, LoadedList } from "../ui/States.js";
import { useLoad } from "../ui/useLoad.js";

const SCOPES: readonly Scope[] = ["jobs:write", "jobs:read", "models:read", "models:write", "keys:admin", "admin"];

/** /admin/keys: the keys (never the keys themselves), a form that makes one and shows it once, and revoking with a confirmation. */
export function Keys() {
  useTitle("Keys");
  const { api, me } = useSession();
  const keys = useLoad(() => api.client.keys.list(), "keys");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [error, setError] = useState<unknown>(null);

  return (
    <section aria-labelledby="keys">
      <h1 id="keys">Keys</h1>
      {created ? <CreatedKeyNotice created={created} onDone={() => setCreated(null)} /> : (
        <NewKeyForm admin={hasScope(me, "admin")} onCreated={(key) => { setCreated(key); keys.reload(); }} />
      )}
      {error !== null && <ErrorAlert error={error} />}
      <LoadedList list={keys} what="keys" empty="No keys yet.">{(items) => (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Key list">
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Tenant</th><th scope="col">Scopes</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">State</th></tr>
            </thead>
            <tbody>
              {items.map((k) => (
                <KeyRow key={k.id} keyView={k} self={k.id === me.key.id} onRevoke={async () => {
                  setError(null);
                  try {
                    await api.client.keys.revoke(k.id);
                    keys.reload();
                  } catch (e) {
                    setError(e);
                  }
                }} />
              ))}
            </tbody>
          </table>
        </div>
      )}</LoadedList>
    </section>
  );
}

function KeyRow({ keyView: k, self, onRevoke }: { keyView: KeyView; self: boolean; onRevoke: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <tr>
      <td className="wrap">{k.name}</td>
      <td className="mono">{k.prefix}…</td>
      <td>{k.tenant}</td>
      <td className="wrap">{k.scopes.join(", ")}</td>
      <td>{formatTime(k.last_used_at)}</td>
      <td>{formatTime(k.expires_at)}</td>
      <td className="wrap">
        {k.revoked_at ? `Revoked ${formatTime(k.revoked_at)}` : self ? "Active (signed in with it)" : confirming ? (
          <span className="confirm" role="group" aria-label={`Revoke ${k.name}?`}>
            <span>Revoke? Apps using it stop at once.</span>
            <button type="button" className="danger" onClick={() => void onRevoke()}>Yes, revoke {k.name}</button>
            <button type="button" onClick={() => setConfirming(false)}>Keep</button>
          </span>
        ) : (
          <button type="button" onClick={() => setConfirming(true)} aria-label={`Revoke ${k.name}`}>Revoke</button>
        )}
      </td>
    </tr>
  );
}

function NewKeyForm({ admin, onCreated }: { admin: boolean; onCreated: (key: CreatedKey) => void }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["jobs:write", "jobs:read", "models:read"]);
  const [tenant, setTenant] = useState("");
  const [expires, setExpires] = useState("");
  const [error, setError] = useState<unknown>(null);
  const offered = admin ? SCOPES : SCOPES.filter((s) => s !== "admin");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      onCreated(await api.client.keys.create({
        name: name.trim(), scopes,
        ...(tenant.trim() ? { tenant: tenant.trim() } : {}),
        ...(expires ? { expires_at: new Date(`${expires}T23:59:59`).toISOString() } : {}),
      }));
    } catch (e) {
      setError(e);
    }
  };

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="new-key">
      <h2 id="new-key">New key</h2>
      <div className="row">
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input id="key-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        {admin && (
          <div className="field">
            <label htmlFor="key-tenant">Tenant (optional)</label>
            <input id="key-tenant" aria-describedby="key-tenant-help" value={tenant} onChange={(e) => setTenant(e.target.value)} />
            <small id="key-tenant-help" className="muted">Default: your own tenant.</small>
          </div>
        )}
        <div className="field">
          <label htmlFor="key-expires">Expires (optional)</label>
          <input id="key-expires" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </div>
      </div>
      <fieldset>
        <legend>Scopes</legend>
        <div className="checks">
          {offered.map((s) => (
            <label key={s} className="field-check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes((all) => (e.target.checked ? [...all, s] : all.filter((x) => x !== s)))} /> {s}
            </label>
          ))}
        </div>
      </fieldset>
      {error !== null && <ErrorAlert error={error} />}
      <div className="actions"><button type="submit" className="primary" disabled={!name.trim() || scopes.length === 0}>Create key</button></div>
    </form>
  );
}

/** The new key, this once: it cannot be shown again. */
function CreatedKeyNotice({ created, onDone }: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("Key copied.");
    } catch {
      setCopied("The browser did not allow copying: select the key and copy it.");
    }
  };
  return (
    <div className="card stack alert-success" role="region" aria-labelledby="created-key">
      <h2 id="created-key">Key {created.name} created</h2>
      <p>Copy it now: it is shown only this once.</p>
      <label htmlFor="created-key-value">New API key</label>
      <input id="created-key-value" className="mono" readOnly value={created.key} onFocus={(e) => e.target.select()} />
      <div className="actions">
        <button type="button" className="primary" onClick={() => void copy()}>Copy key</button>
        <button type="button" onClick={onDone}>Done</button>
        <span role="status">{copied}</span>
      </div>
    </div>
  );
}
