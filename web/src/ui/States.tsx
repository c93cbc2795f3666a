import type { ReactNode } from "react";
import { describeError } from "../api/api.js";
import type { Loaded } from "./useLoad.js";

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

/** A loaded list in its states: loading, failed (with `retry` beside the error), empty, or `children` of its items. */
export function LoadedList<T>({ list, what, empty, retry, children }: {
  list: Loaded<T[]>; what: string; empty: ReactNode; retry?: ReactNode; children: (items: T[]) => ReactNode;
}) {
  if (list.status === "loading") return <Loading what={what} />;
  if (list.status === "error") return <ErrorAlert error={list.error} action={retry} />;
  if (list.data.length === 0) return <Empty>{empty}</Empty>;
  return <>{children(list.data)}</>;
}
