import { useCallback, useEffect, useRef, useState } from "react";

export type Loaded<T> = { status: "loading" } | { status: "error"; error: unknown } | { status: "ok"; data: T };

/**
 * Loads `load()` when `key` changes, and again on reload() (keeping what it shows until the new
 * answer comes); a late answer to an older key is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> & { reload: () => void } {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  const [round, setRound] = useState(0);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  const lastKey = useRef<string | null>(null);
  useEffect(() => {
    let current = true;
    if (lastKey.current !== key) setState({ status: "loading" });
    lastKey.current = key;
    load().then(
      (data) => current && setState({ status: "ok", data }),
      (error: unknown) => current && setState({ status: "error", error }),
    );
    return () => {
      current = false;
    };
    // `load` is a new closure each render: `key` says when what it loads changed.
  }, [key, round]);
  return { ...state, reload };
}
