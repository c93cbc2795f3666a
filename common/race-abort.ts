/**
 * Settles with `work`, or rejects with the signal's reason when it fires first. `work` keeps
 * running: callers pass `discard` to release what it yields late (an open stream).
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, discard?: (late: T) => void): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.then((v) => discard?.(v), () => {});
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.then((v) => discard?.(v), () => {});
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener("abort", onAbort); resolve(v); },
      (err: Error) => { signal.removeEventListener("abort", onAbort); reject(err); },
    );
  });
}
