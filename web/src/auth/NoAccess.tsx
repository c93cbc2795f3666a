import type { ReactNode } from "react";
import type { Scope } from "../api/types.js";
import { hasScope, useSession } from "./session.js";

/** The page a key without `scope` sees in place of one that needs it. */
export function NoAccess({ scope, scopes }: { scope: Scope; scopes: readonly string[] }) {
  return (
    <section aria-labelledby="no-access">
      <h1 id="no-access">You don't have access</h1>
      <p>
        This page needs an API key with the <code>{scope}</code> scope{scope !== "admin" && <> (or <code>admin</code>)</>}.
      </p>
      <p className="muted">Your key has: {scopes.length ? scopes.join(", ") : "no scopes"}. Ask an administrator for a key with that scope, then sign in again with it.</p>
    </section>
  );
}

/** The children when the signed-in key has `scope`, the no-access page otherwise. */
export function RequireScope({ scope, children }: { scope: Scope; children: ReactNode }) {
  const { me } = useSession();
  return hasScope(me, scope) ? children : <NoAccess scope={scope} scopes={me.scopes} />;
}
