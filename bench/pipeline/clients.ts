import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
import { monotonicMicros } from "./profile.js";

/** What one job went through, in ms on performance.now(): as a client and an observer saw it. */
export interface JobTimes {
  submitted: number;
  accepted?: number;
  running?: number;
  /** The Running phase itself was seen (a job can end before the operator writes it). */
  sawRunning?: boolean;
  finished?: number;
  phase?: string;
  /** The ImageJob's DELETED event (the mirror's delete after it finished, ADR 0018). */
  deleted?: number;
}

export interface SubmitOptions {
  url: string;
  key: string;
  model: string;
  /** One input per job (distinct bytes, so the result cache never answers). */
  images: Buffer[];
  clients: number;
  /** Called with each accepted job's UID and its events URL, as soon as the 202 arrives. */
  onAccepted?: (uid: string, eventsUrl: string) => void;
}

export interface SubmitResult {
  /** UIDs of the jobs accepted (202), in the order the answers came. */
  accepted: string[];
  /** Answers other than 202, by status code. */
  refused: Map<number, number>;
  firstSubmit: number;
  lastAccepted: number;
  /** monotonicMicros() at the first submit: where the profiles' window starts. */
  firstSubmitMicros: number;
}

/** `clients` concurrent clients each POSTing multipart jobs one after the other until `images` are all sent. */
export async function submitAll(opts: SubmitOptions, jobs = new Map<string, JobTimes>()): Promise<SubmitResult> {
  const refused = new Map<number, number>();
  const accepted: string[] = [];
  let next = 0;
  let lastAccepted = 0;
  const firstSubmit = performance.now();
  const firstSubmitMicros = monotonicMicros();
  const client = async () => {
    while (next < opts.images.length) {
      const i = next++;
      const submitted = performance.now();
      const body = await postJob(opts, opts.images[i]!, i);
      if (typeof body === "number") {
        refused.set(body, (refused.get(body) ?? 0) + 1);
        continue;
      }
      lastAccepted = performance.now();
      accepted.push(body.id);
      const seen = jobs.get(body.id) ?? {} as Partial<JobTimes>;
      jobs.set(body.id, { ...seen, submitted, accepted: lastAccepted });
      opts.onAccepted?.(body.id, body.urls.events);
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, client));
  return { accepted, refused, firstSubmit, lastAccepted, firstSubmitMicros };
}

/** One multipart POST /v1/jobs, as a user would send it: the 202's body, or the status code of a refusal. */
export async function postJob(opts: Pick<SubmitOptions, "url" | "key" | "model">, image: Buffer, i: number): Promise<{ id: string; urls: { events: string } } | number> {
  const form = new FormData();
  form.set("model", opts.model);
  form.set("image", new Blob([new Uint8Array(image)], { type: "image/png" }), `bench-${i}.png`);
  const res = await fetch(`${opts.url}/v1/jobs`, { method: "POST", body: form, headers: { authorization: `Bearer ${opts.key}` } });
  if (res.status !== 202) {
    await res.body?.cancel();
    return res.status;
  }
  return (await res.json()) as { id: string; urls: { events: string } };
}

const FINISHED = new Set(["Succeeded", "Failed", "Canceled"]);

/**
 * Follows the namespace's ImageJobs with one watch of this process (a client of the apiserver,
 * as kubectl would be): the first time each job is seen Running (or already finished), finished,
 * and deleted. Events for jobs not yet accepted are kept and joined when the 202 arrives. A watch
 * the server or the connection ends is started again from the last resourceVersion seen (events
 * and bookmarks), so no DELETED event falls in the gap; after a 410 (that version compacted) it
 * starts afresh, and its first events list what exists.
 */
export async function watchJobs(kc: KubeConfig, namespace: string, jobs: Map<string, JobTimes>, log: (m: string) => void = () => {}): Promise<{ abort(): void; restarts(): number }> {
  const entry = (uid: string) => jobs.get(uid) ?? jobs.set(uid, { submitted: NaN }).get(uid)!;
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${IMAGEJOB_PLURAL}`;
  let current: { abort(): void } | undefined;
  let stopped = false;
  let restarts = 0;
  let resourceVersion: string | undefined;
  const onEvent = (type: string, job: ImageJob) => {
    if (type === "ERROR") {
      resourceVersion = undefined; // 410 Gone, mostly: the server ends the watch, the next starts afresh
      return;
    }
    resourceVersion = job.metadata?.resourceVersion ?? resourceVersion;
    if (type === "BOOKMARK") return;
    const now = performance.now();
    const t = entry(job.metadata.uid!);
    const phase = job.status?.phase;
    if (type === "DELETED") t.deleted ??= now;
    if (phase === "Running") t.sawRunning = true;
    if (phase === "Running" || (phase && FINISHED.has(phase))) t.running ??= now;
    if (phase && FINISHED.has(phase)) {
      t.finished ??= now;
      t.phase ??= phase;
    }
  };
  const start = async (): Promise<void> => {
    current = await new Watch(kc).watch(path, { allowWatchBookmarks: true, resourceVersion }, onEvent, (err: unknown) => {
      if (stopped) return;
      restarts++;
      log(`the ImageJob watch ended (${err instanceof Error ? err.message : "closed"}); watching again`);
      setTimeout(() => void start().catch((e: unknown) => log(`watch: ${String(e)}`)), 200);
    });
  };
  await start();
  return { abort: () => ((stopped = true), current?.abort()), restarts: () => restarts };
}

/**
 * Follows one job through the API's Server-Sent Events (GET /v1/jobs/:id/events), as a user
 * waiting for a result would: first `running` (or an end), and the end.
 */
export async function followSse(eventsUrl: string, key: string, t: JobTimes): Promise<void> {
  const res = await fetch(eventsUrl, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200 || !res.body) throw new Error(`GET ${eventsUrl}: ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith("data: ")) continue;
      const status = (JSON.parse(line.slice(6)) as { status: string }).status;
      const now = performance.now();
      if (status !== "pending" && status !== "queued") t.running ??= now;
      if (status === "running") t.sawRunning = true;
      if (status === "succeeded" || status === "failed" || status === "canceled") {
        t.finished ??= now;
        t.phase ??= status[0]!.toUpperCase() + status.slice(1);
      }
    }
  }
}
