import { setTimeout as sleep } from "node:timers/promises";
import { postJob, type JobTimes } from "./clients.js";
import { tinyImage, runSalt } from "./images.js";

export interface PacedOptions {
  url: string;
  key: string;
  model: string;
  /** Offered rate: one submit every 1/rate s, on a fixed schedule (open loop: a slow answer does not delay the next submit). */
  rate: number;
  seconds: number;
  /** Submits in flight at most; a scheduled submit that finds them all busy waits for one (and counts as late). */
  maxInFlight: number;
}

export interface PacedResult {
  sent: number;
  /** UIDs of the jobs accepted (202), in the order the answers came. */
  accepted: string[];
  /** Answers other than 202 by status code; 0: the request failed (no answer). */
  refused: Map<number, number>;
  firstSubmit: number;
  lastSubmit: number;
  /** Submits that waited for a free slot, and the most any submit started after its scheduled time (ms). */
  late: number;
  maxLagMs: number;
}

/**
 * Submits `rate` jobs/s for `seconds`, each a distinct tiny PNG, on a fixed schedule from the
 * first submit: submit i goes at i/rate s, whatever happened to the earlier ones, as independent
 * users would send them. `onAccepted` sees each 202 as it arrives.
 */
export async function submitPaced(opts: PacedOptions, jobs: Map<string, JobTimes>, progress: { sent: number; accepted: number } = { sent: 0, accepted: 0 }): Promise<PacedResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const salt = runSalt();
  const accepted: string[] = [];
  const refused = new Map<number, number>();
  const inFlight = new Set<Promise<void>>();
  let late = 0;
  let maxLagMs = 0;
  let lastSubmit = 0;
  const firstSubmit = performance.now();
  for (let i = 0; i < total; i++) {
    const image = await tinyImage(i, salt);
    const due = firstSubmit + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (inFlight.size >= opts.maxInFlight) {
      late++;
      while (inFlight.size >= opts.maxInFlight) await Promise.race(inFlight);
    }
    const submitted = performance.now();
    maxLagMs = Math.max(maxLagMs, submitted - due);
    lastSubmit = submitted;
    progress.sent++;
    const one = postJob(opts, image, i).then((body) => {
      if (typeof body === "number") {
        refused.set(body, (refused.get(body) ?? 0) + 1);
        return;
      }
      accepted.push(body.id);
      progress.accepted++;
      jobs.set(body.id, { ...jobs.get(body.id), submitted, accepted: performance.now() });
    }, () => void refused.set(0, (refused.get(0) ?? 0) + 1)).finally(() => inFlight.delete(one));
    inFlight.add(one);
  }
  await Promise.all(inFlight);
  return { sent: total, accepted, refused, firstSubmit, lastSubmit, late, maxLagMs };
}
