import { createContext, useContext } from "react";
import type { Api } from "../api/api.js";
import type { MeView, Scope } from "../api/types.js";

/** Who is signed in: the API with their key, what GET /v1/me says of it, and the way out. */
export interface Session {
  api: Api;
  me: MeView;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; only pages under the signed-in layout use it. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

/** Whether the key may do what `scope` allows: admin implies every scope. */
export function hasScope(me: MeView, scope: Scope): boolean {
  return me.scopes.includes("admin") || me.scopes.includes(scope);
}
