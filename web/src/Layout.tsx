import { useEffect } from "react";
import { Link, NavLink, Outlet } from "react-router";
import { hasScope, useSession } from "./auth/session.js";

/** The signed-in pages' frame: a skip link, the top navigation and the page. */
export function Layout() {
  const { me, signOut } = useSession();
  const admin = hasScope(me, "admin");
  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="top">
        <Link to="/new" className="brand">Pixelmill</Link>
        <nav aria-label="Main">
          <ul>
            <li><NavLink to="/new">New job</NavLink></li>
            <li><NavLink to="/jobs" end>History</NavLink></li>
            {admin && <li><NavLink to="/admin/pools">Pools</NavLink></li>}
            {admin && <li><NavLink to="/admin/tenants">Tenants</NavLink></li>}
            {hasScope(me, "keys:admin") && <li><NavLink to="/admin/keys">Keys</NavLink></li>}
            {admin && <li><NavLink to="/admin/webhooks">Webhooks</NavLink></li>}
          </ul>
        </nav>
        <div className="who">
          <span className="muted" title={`key ${me.key.name ?? me.key.id}`}>{me.tenant.name}</span>
          <button type="button" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

/** The document title of a page: "<title> · Pixelmill". */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Pixelmill`;
  }, [title]);
}

export function NotFound() {
  useTitle("Not found");
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no page here. Start a <Link to="/new">new job</Link> or look at your <Link to="/jobs">history</Link>.
      </p>
    </section>
  );
}
