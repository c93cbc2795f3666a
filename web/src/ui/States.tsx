import type { ReactNode } from "react";
import { describeError } from "../api/api.js";

/** A data view that is loading. */
export function Loading({ what }: { what: string }) {
  return <p role="status" className="muted">Loading {what}…</p>;
}

/** An error, as the API's problem says it (title and detail). */
export function ErrorAlert({ error, action }: { error: unknown; action?: ReactNode }) {
  const { title, detail } = describeError(error);
  return (
    <div role="alert" className="alert alert-error">
      <strong>{title}</strong>
      {detail && <p>{detail}</p>}
      {action}
    </div>
  );
}

/** A data view with nothing in it yet. */
export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
