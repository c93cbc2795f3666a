import { useCallback, useEffect, useMemo, useState } from "react";
import { Navigate, Route, Routes, useNavigate } from "react-router";
import { Pools } from "./admin/Pools.js";
import { Keys } from "./admin/Keys.js";
import { Tenants } from "./admin/Tenants.js";
import { Webhooks } from "./admin/Webhooks.js";
import { Api, PixelmillApiError } from "./api/api.js";
import { clearSession, storedKey, storeKey } from "./api/session.js";
import type { MeView } from "./api/types.js";
import { RequireScope } from "./auth/NoAccess.js";
import { SessionContext, type Session } from "./auth/session.js";
import { SignIn } from "./auth/SignIn.js";
import { History } from "./jobs/History.js";
import { JobPage } from "./jobs/JobPage.js";
import { NewJob } from "./jobs/NewJob.js";
import { Layout, NotFound } from "./Layout.js";
import { ErrorAlert, Loading } from "./ui/States.js";

type Auth = { state: "checking" } | { state: "signed-out"; ended?: boolean } | { state: "failed"; error: unknown } | { state: "signed-in"; api: Api; me: MeView };

/** The console: the sign-in page, and the signed-in pages under one layout. */
export function App() {
  const navigate = useNavigate();
  const [auth, setAuth] = useState<Auth>(() => (storedKey() ? { state: "checking" } : { state: "signed-out" }));

  /** The API with the signed-in key: a 401 later (the key revoked or expired) ends the session. */
  const apiFor = useCallback((key: string) => new Api(key, () => {
    clearSession();
    setAuth({ state: "signed-out", ended: true });
  }), []);

  // A key kept from earlier in this tab is checked again: it may have been revoked since.
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    const api = apiFor(key);
    api.me().then(
      (me) => setAuth({ state: "signed-in", api, me }),
      (error: unknown) => {
        if (error instanceof PixelmillApiError && error.status === 401) {
          clearSession();
          setAuth({ state: "signed-out" });
        } else setAuth({ state: "failed", error });
      },
    );
  }, [apiFor]);

  const session = useMemo<Session | null>(() => {
    if (auth.state !== "signed-in") return null;
    return {
      api: auth.api,
      me: auth.me,
      signOut: () => {
        clearSession();
        setAuth({ state: "signed-out" });
        void navigate("/sign-in");
      },
    };
  }, [auth, navigate]);

  if (auth.state === "checking") return <main id="main" className="sign-in"><Loading what="your session" /></main>;
  if (auth.state === "failed") return <main id="main" className="sign-in"><ErrorAlert error={auth.error} action={<button type="button" onClick={() => window.location.reload()}>Try again</button>} /></main>;

  const signedIn = (key: string, me: MeView) => {
    storeKey(key);
    setAuth({ state: "signed-in", api: apiFor(key), me });
    void navigate("/new");
  };

  return (
    <SessionContext.Provider value={session}>
      <Routes>
        <Route path="/sign-in" element={session ? <Navigate to="/new" replace /> : <SignIn onSignedIn={signedIn} ended={auth.state === "signed-out" && auth.ended === true} />} />
        <Route element={session ? <Layout /> : <Navigate to="/sign-in" replace />}>
          <Route index element={<Navigate to="/new" replace />} />
          <Route path="new" element={<RequireScope scope="jobs:write"><NewJob /></RequireScope>} />
          <Route path="jobs" element={<RequireScope scope="jobs:read"><History /></RequireScope>} />
          <Route path="jobs/:id" element={<RequireScope scope="jobs:read"><JobPage /></RequireScope>} />
          <Route path="admin/pools" element={<RequireScope scope="admin"><Pools /></RequireScope>} />
          <Route path="admin/tenants" element={<RequireScope scope="admin"><Tenants /></RequireScope>} />
          <Route path="admin/keys" element={<RequireScope scope="keys:admin"><Keys /></RequireScope>} />
          <Route path="admin/webhooks" element={<RequireScope scope="jobs:read"><Webhooks /></RequireScope>} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </SessionContext.Provider>
  );
}
