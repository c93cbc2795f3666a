import { expect, type TaskMeta } from "vitest";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION } from "../../common/crd-types.js";
import { account, imageJobs, quiesce, type CaseReport, type Submitted } from "./accounting.js";
import type { LogLine, Platform } from "./platform.js";

/** A PNG of noise, different for every `seed`, so no two jobs read the same bytes. */
export async function noisePng(width: number, height: number, seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + seed * 101 + ((i * seed) % 13)) % 256;
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}

let seed = 0;
/** A new seed for noisePng: no two jobs of a run read the same bytes. */
export const nextSeed = (): number => ++seed;

export const SMALL_MODELS = ["grayscale", "resize-x2"] as const;

/** Submits `n` small jobs, alternating the two cheap built-in models. */
export async function submitSmall(run: CaseRun, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await run.submit(SMALL_MODELS[i % 2]!, await noisePng(24, 16, nextSeed()));
}

/** Submits `long` (an image that takes a second or more) and `n` small jobs; resolves once a worker runs the long one. */
export async function longAndSmall(platform: Platform, run: CaseRun, long: Buffer, n: number): Promise<Submitted> {
  const slow = await run.submit("resize-x2", long);
  await submitSmall(run, n);
  await poll("the long job to start", async () => starts(await platform.workerLines(), slow.id)[0], 60_000);
  return slow;
}

/** Passes the API's check of the first bytes (a PNG signature), but no decoder can read it. */
export function undecodablePng(seed: number): Buffer {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, Buffer.from(`not an image, only bytes after a signature #${seed} `.repeat(8))]);
}

/** POST /v1/jobs with an upload; the answer's status, and the job when it is 202. */
export async function post(p: Platform, model: string, image: Buffer): Promise<{ status: number; job?: Submitted; body: string }> {
  const form = new FormData();
  form.set("model", model);
  form.set("image", new Blob([image]), "in.png");
  // Bounded: an API that hangs while a dependency is down is a finding, not a reason to wait forever.
  const res = await p.apiFetch("/v1/jobs", { method: "POST", body: form, signal: AbortSignal.timeout(20_000) }).catch((err: Error) => err);
  if (res instanceof Error) return { status: 0, body: `no answer: ${res.message}` };
  const body = await res.text();
  return { status: res.status, body, job: res.status === 202 ? { id: (JSON.parse(body) as { id: string }).id, model } : undefined };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the API is ready again after an outage, as a client told "503, Retry-After" would:
 * its checks see a dependency back a moment after the dependency itself is.
 */
export async function untilReady(p: Platform, timeoutMs = 60_000): Promise<true> {
  return poll("/readyz to answer 200 again", async () => ((await fetch(`${p.apiUrl}/readyz`)).status === 200 ? true : undefined), timeoutMs);
}

/** Polls `check` every 100 ms until it returns something, failing after `timeoutMs`. */
export async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** The "Job started" lines of one job across both workers' logs, oldest first. */
export function starts(lines: ReadonlyArray<LogLine & { worker: string }>, id: string): Array<LogLine & { worker: string }> {
  return lines.filter((l) => l.msg === "Job started" && l.jobUid === id).sort((a, b) => a.time - b.time);
}

/**
 * One fault case: the jobs it submitted, and its report once every job is accounted for. The
 * row goes into the test's meta for the table, also when the case fails half-way.
 */
export class CaseRun {
  readonly submitted: Submitted[] = [];
  readonly notes: string[] = [];
  report?: CaseReport;

  constructor(private readonly platform: Platform, readonly fault: string, private readonly meta: TaskMeta) {}

  async submit(model: string, image: Buffer): Promise<Submitted> {
    const answer = await post(this.platform, model, image);
    if (!answer.job) throw new Error(`POST /v1/jobs (${model}) answered ${answer.status}: ${answer.body}`);
    this.submitted.push(answer.job);
    return answer.job;
  }

  /**
   * Deletes (as `kubectl delete` does) up to `count` of this run's ImageJobs that are still
   * waiting, newest first, each only if it is unchanged since it was seen waiting (a precondition
   * on its resourceVersion), so none is deleted after a worker took it. Returns the deleted ones.
   */
  async deleteWaiting(count: number): Promise<Submitted[]> {
    const jobs = await imageJobs(this.platform);
    const deleted: Submitted[] = [];
    for (const s of [...this.submitted].reverse()) {
      const job = jobs.get(s.id);
      if (deleted.length === count) break;
      if (!job || !["Pending", "Queued", undefined].includes(job.status?.phase) || job.status?.attempts) continue;
      const gone = await this.platform.custom.deleteNamespacedCustomObject({
        group: GROUP, version: VERSION, namespace: this.platform.namespace, plural: IMAGEJOB_PLURAL, name: job.metadata.name!,
        body: { preconditions: { resourceVersion: job.metadata.resourceVersion } },
      }).then(() => true, () => false);
      if (gone) {
        s.deleted = true;
        deleted.push(s);
      }
    }
    return deleted;
  }

  /** Waits (bounded) for every job to finish, then accounts for all of them. */
  async settle(timeoutMs = 150_000): Promise<CaseReport> {
    const started = Date.now();
    const quiet = await quiesce(this.platform, this.submitted, timeoutMs);
    this.report = await account(this.platform, this.fault, this.submitted);
    this.report.row.notes.push(...this.notes, quiet ? `all finished ${Math.round((Date.now() - started) / 1000)} s after the last submit` : `stopped waiting after ${timeoutMs} ms`);
    this.meta.chaos = this.report.row;
    return this.report;
  }
}

/** Runs a case; when it fails before accounting, still accounts (briefly) so the table has its row. */
export async function chaosCase(platform: Platform, meta: TaskMeta, fault: string, body: (run: CaseRun) => Promise<void>): Promise<void> {
  await platform.ensureRunning();
  const run = new CaseRun(platform, fault, meta);
  try {
    await body(run);
  } catch (err) {
    if (!run.report) await run.settle(20_000).catch(() => {});
    throw err;
  }
}

/** Nothing lost, duplicated or stuck, every job finished with a phase and reason, no other invariant broken. */
export function expectAccounted(report: CaseReport): void {
  const { lost, duplicated, stuck, unexplained, anomalies, jobs, succeeded, failed, canceled } = report.row;
  expect({ lost, duplicated, stuck, unexplained, anomalies }).toEqual({ lost: 0, duplicated: 0, stuck: 0, unexplained: 0, anomalies: [] });
  expect(succeeded + failed + canceled).toBe(jobs);
}
