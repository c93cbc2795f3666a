/**
 * One reading of a pool's demand: what its workers hold (presence), then what waits (the queues).
 *
 * In that order, and not at once: a worker that takes a job between the two reads moves it from
 * waiting to in-flight, so reading the queues first could count that job in both and start a
 * replica for work already running. Read presence first, such a job is counted in neither; the
 * worker's start notification re-plans the pools at once, and a scale-down goes no lower than the
 * highest target of the pool's window (autoscaler.ts), so the miss costs nothing.
 */
export async function readDemand<P, W>(readPresence: () => Promise<P>, readWaiting: () => Promise<W>): Promise<{ presence: P; waiting: W }> {
  const presence = await readPresence();
  const waiting = await readWaiting();
  return { presence, waiting };
}
