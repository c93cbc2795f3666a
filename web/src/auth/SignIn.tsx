import { useState, type FormEvent } from "react";
import { Api } from "../api/api.js";
import type { MeView } from "../api/types.js";
import { ErrorAlert } from "../ui/States.js";

/** The sign-in form: the key is checked with GET /v1/me before it is kept. */
export function SignIn({ onSignedIn, ended = false }: { onSignedIn: (key: string, me: MeView) => void; ended?: boolean }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await new Api(key.trim()).me();
      onSignedIn(key.trim(), me);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  return (
    <main className="sign-in" id="main">
      <h1>Pixelmill</h1>
      <form onSubmit={(e) => void submit(e)} className="card stack">
        <h2>Sign in</h2>
        {ended && <p role="alert" className="alert alert-error">The API no longer accepts the key you signed in with (revoked or expired): sign in again.</p>}
        <p className="muted">Use an API key of your team. It is kept in this tab only, until you sign out or close it.</p>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" required spellCheck={false} value={key} onChange={(e) => setKey(e.target.value)} />
        {error !== null && <ErrorAlert error={error} />}
        <button type="submit" className="primary" disabled={busy || !key.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}
