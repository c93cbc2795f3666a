import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Queue } from "bullmq";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob, type ImageJobList } from "../../common/crd-types.js";
import { isFinished } from "../../common/job/phases.js";
import { queueName } from "../../common/queue.js";
import { createRedis } from "../../common/redis.js";
import { testEnv } from "../support/env.js";
import type { Platform } from "./platform.js";
import type { ChaosRow } from "./table.js";

/** A job the API accepted (202). */
export interface Submitted {
  id: string;
  model: string;
  /** The case deleted its ImageJob before it finished: it must end canceled, with no output. */
  deleted?: boolean;
}

/** What the API's GET /v1/jobs/:id shows (api/http/job-presenter.ts), the fields the suite reads. */
export interface ApiJob {
  id: string;
  status: string;
  attempts: number;
  error: { reason: string; message: string } | null;
}

export type Verdict = "succeeded" | "failed" | "canceled" | "lost" | "stuck" | "unexplained";

export interface Outcome extends Submitted {
  verdict: Verdict;
  /** The ImageJob (undefined when the apiserver does not know the UID). */
  job?: ImageJob;
  /** The API's record, for a job the apiserver no longer has. */
  api?: ApiJob;
  /** Output objects of this job, whatever the attempt. */
  outputs: string[];
  duplicated: boolean;
}

export interface CaseReport {
  row: ChaosRow;
  outcomes: Outcome[];
  byId: Map<string, Outcome>;
}

const terminal = (job: ImageJob | undefined) => isFinished(job?.status?.phase);

/** The suite's ImageJobs by UID, read from the apiserver (not from a cache). */
export async function imageJobs(p: Platform): Promise<Map<string, ImageJob>> {
  const list = (await p.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: p.namespace, plural: IMAGEJOB_PLURAL })) as ImageJobList;
  return new Map(list.items.map((j) => [j.metadata.uid!, j]));
}

/**
 * Waits, at most `timeoutMs`, until every submitted job is finished; false if some are not. A
 * job gone from the apiserver that the case did not delete counts once the API shows it
 * finished: the API's mirror deletes finished jobs it has recorded (ADR 0018).
 */
export async function quiesce(p: Platform, submitted: readonly Submitted[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const done = async (s: Submitted, jobs: Map<string, ImageJob>) => terminal(jobs.get(s.id)) || (!jobs.has(s.id) && (s.deleted || isApiEnd(await apiJob(p, s.id).catch(() => undefined))));
  for (;;) {
    const jobs = await imageJobs(p).catch(() => undefined);
    if (jobs && (await Promise.all(submitted.map((s) => done(s, jobs)))).every(Boolean)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Accounts for every submitted job: its ImageJob (or, when the apiserver has none, the API's
 * record), its output objects in S3, its BullMQ job, and the API's mirror of it. Every job gets
 * one verdict; duplicates are counted beside; anything else that disagrees is an anomaly.
 */
export async function account(p: Platform, fault: string, submitted: readonly Submitted[], opts: { mirrorTimeoutMs?: number } = {}): Promise<CaseReport> {
  const anomalies: string[] = [];
  const [jobs, outputs] = await Promise.all([imageJobs(p), outputsByUid(p)]);
  const outcomes: Outcome[] = [];
  for (const s of submitted) {
    const job = jobs.get(s.id);
    const mine = outputs.get(s.id) ?? [];
    const api = job ? undefined : await apiEnding(p, s.id, opts.mirrorTimeoutMs ?? 60_000);
    const verdict = job ? verdictOf(job, mine) : apiVerdict(api, mine, s.deleted);
    const duplicated = (verdict === "succeeded" && mine.length > 1) || ((job?.status?.phase === "Failed" || verdict === "failed" || verdict === "canceled") && mine.length > 0);
    outcomes.push({ ...s, verdict, job, api, outputs: mine, duplicated });
  }
  const released = outcomes.filter((o) => !o.job && !o.deleted).length;
  anomalies.push(...(await queueDisagreements(p, outcomes)));
  anomalies.push(...(await mirrorDisagreements(p, outcomes, opts.mirrorTimeoutMs ?? 60_000)));
  anomalies.push(...p.takeCrashes());
  const count = (v: Verdict) => outcomes.filter((o) => o.verdict === v).length;
  const row: ChaosRow = {
    fault, jobs: submitted.length, succeeded: count("succeeded"), failed: count("failed"), canceled: count("canceled"), lost: count("lost"),
    duplicated: outcomes.filter((o) => o.duplicated).length, stuck: count("stuck"), unexplained: count("unexplained"), notes: [], anomalies,
  };
  if (released) row.notes.push(`${released} finished jobs already deleted from etcd by the API's mirror, accounted from its history`);
  for (const o of outcomes.filter((x) => !["succeeded", "failed", "canceled"].includes(x.verdict))) {
    anomalies.push(`${o.verdict}: ${o.id} (${o.model}) phase ${o.job?.status?.phase ?? "none"}, reason ${o.job?.status?.reason ?? "none"}, outputs ${o.outputs.length}`);
  }
  return { row, outcomes, byId: new Map(outcomes.map((o) => [o.id, o])) };
}

function verdictOf(job: ImageJob, outputs: string[]): Verdict {
  const status = job.status ?? {};
  if (!terminal(job)) return "stuck";
  if (status.phase === "Succeeded") {
    // Succeeded counts only with its output there: status pointing at nothing is a lost result.
    const key = status.output?.uri?.split("/").pop();
    return key && outputs.some((o) => o.endsWith(`/${key}`)) ? "succeeded" : "lost";
  }
  return status.phase === "Failed" && status.reason ? "failed" : "unexplained";
}

/**
 * For a job the apiserver no longer has (deleted by the API's mirror once it recorded the end,
 * or by the case): the API's record of it, or lost. Succeeded counts only with an output object;
 * canceled is an ending only for a job the case deleted (an end the mirror did not see reads
 * canceled too: unexplained here).
 */
function apiVerdict(job: ApiJob | undefined, outputs: string[], deleted = false): Verdict {
  if (!job) return "lost";
  if (job.status === "succeeded") return outputs.length > 0 ? "succeeded" : "lost";
  if (job.status === "failed") return job.error?.reason ? "failed" : "unexplained";
  if (job.status === "canceled") return deleted && job.error?.reason === "Canceled" ? "canceled" : "unexplained";
  return "stuck";
}

/** The API's record of a job the apiserver no longer has, once it shows an end (an API that just started may still be relisting). */
async function apiEnding(p: Platform, id: string, timeoutMs: number): Promise<ApiJob | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await apiJob(p, id).catch(() => undefined);
    if (isApiEnd(job) || Date.now() > deadline) return job;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const isApiEnd = (job: ApiJob | undefined) => job !== undefined && ["succeeded", "failed", "canceled"].includes(job.status);

async function apiJob(p: Platform, id: string): Promise<ApiJob | undefined> {
  const res = await p.apiFetch(`/v1/jobs/${id}`);
  return res.status === 200 ? ((await res.json()) as ApiJob) : undefined;
}

/** Output keys under outputs/<namespace>/ (`<name>/<uid>-<attempt>.<ext>`), by UID. */
async function outputsByUid(p: Platform): Promise<Map<string, string[]>> {
  const { s3 } = testEnv();
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  const byUid = new Map<string, string[]>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${p.storagePrefix}/outputs/${p.namespace}/`, ContinuationToken: token }));
      for (const { Key } of page.Contents ?? []) {
        const uid = /\/([0-9a-f-]{36})-\d+\.\w+$/.exec(Key ?? "")?.[1];
        if (uid) byUid.set(uid, [...(byUid.get(uid) ?? []), Key!]);
      }
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    client.destroy();
  }
  return byUid;
}

/** The BullMQ job of each finished ImageJob (or API record) must have ended the same way, under the UID as its id. */
async function queueDisagreements(p: Platform, outcomes: Outcome[]): Promise<string[]> {
  const redis = createRedis(testEnv().redisUrl);
  const queues = new Map<string, Queue>();
  const found: string[] = [];
  try {
    for (const o of outcomes) {
      // The ImageJob's phase, or the API's record of one its mirror deleted.
      const phase = o.job?.status?.phase ?? (o.api?.status === "succeeded" ? "Succeeded" : o.api?.status === "failed" ? "Failed" : undefined);
      if (phase !== "Succeeded" && phase !== "Failed") continue;
      // An ImageJob refused before the queue (InvalidSpec) has no queue job.
      if ((o.job?.status?.reason ?? o.api?.error?.reason) === "InvalidSpec") continue;
      let q = queues.get(o.model);
      if (!q) queues.set(o.model, (q = new Queue(queueName(o.model), { connection: redis, prefix: p.queuePrefix })));
      const state = await q.getJobState(o.id);
      const expected = phase === "Succeeded" ? "completed" : "failed";
      if (state !== expected) found.push(`queue: job ${o.id} is ${phase} but its BullMQ job is ${state}`);
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
    await redis.quit();
  }
  return found;
}

/** The API's Postgres mirror must catch up with every ImageJob (status and attempts) within `timeoutMs`. */
async function mirrorDisagreements(p: Platform, outcomes: Outcome[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const behind: string[] = [];
    for (const o of outcomes) {
      if (!o.job) {
        // Deleted by the case: the mirror must say canceled (after an API restart, from its relist).
        const seen = o.deleted ? await apiJob(p, o.id).catch(() => undefined) : undefined;
        if (o.deleted && seen?.status !== "canceled") behind.push(`${o.id}: deleted, but the API shows ${seen?.status ?? "nothing"}`);
        continue;
      }
      const seen = await apiJob(p, o.id).catch(() => undefined);
      const want = { status: o.job.status?.phase?.toLowerCase(), attempts: o.job.status?.attempts ?? 0 };
      if (!seen || seen.status !== want.status || seen.attempts !== want.attempts) {
        behind.push(`${o.id}: API shows ${seen ? `${seen.status}/${seen.attempts}` : "nothing"}, ImageJob ${want.status}/${want.attempts}`);
      }
    }
    if (behind.length === 0) return [];
    if (Date.now() > deadline) return [`mirror: ${behind.length} jobs differ from their ImageJob after ${timeoutMs} ms, e.g. ${behind[0]}`];
    await new Promise((r) => setTimeout(r, 500));
  }
}
