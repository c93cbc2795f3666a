/**
 * `npm run bench:batch`: N images as ONE batch ImageJob against the same N images as N single
 * ImageJobs, through the same local platform (bench/pipeline/platform.ts: apiserver + etcd, Redis,
 * Postgres, S3, the operator and the API as processes, a WorkerPool of worker processes). Both are
 * created as kubectl would (straight at the apiserver). Prints for each: the apiserver's writes to
 * ImageJobs (apiserver_request_total, create/update/patch/delete of imagejobs and imagejobs/status,
 * from its own /metrics, until the finished jobs are deleted), images/s (first create to last end),
 * and the ratios. Both runs skip the result cache (spec.cache false), so each runs every image.
 *
 *   --images N        images (default 10000; at most BATCH_MAX_ITEMS)
 *   --workers N       worker pods (default 2), --concurrency N jobs at once each (default 4)
 *   --clients N       concurrent creates of the single jobs (default 32)
 *   --log-level L     LOG_LEVEL of the platform's processes (default warn)
 */
import { CustomObjectsApi } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../common/crd-types.js";
import { isFinished } from "../common/job/phases.js";
import { createObjectStore } from "../common/storage/index.js";
import { apiserverRequests, isWrite, requestRows } from "./pipeline/apiserver-metrics.js";
import { tinyImages } from "./pipeline/images.js";
import { NAMESPACE, startPlatform, type Platform } from "./pipeline/platform.js";

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const IMAGES = Number(arg("images", "10000"));
const WORKERS = Number(arg("workers", "2"));
const CONCURRENCY = Number(arg("concurrency", "4"));
const CLIENTS = Number(arg("clients", "32"));
const MODEL = "grayscale";
const log = (m: string) => console.error(`[bench] ${m}`);

interface RunResult {
  writes: number;
  seconds: number;
  rows: string[];
}

const platform = await startPlatform({ model: MODEL, workers: WORKERS, concurrency: CONCURRENCY, deleteAfterSeconds: 0, logLevel: arg("log-level", "warn"), log });
try {
  const s3 = platform.stack.s3!;
  const store = createObjectStore({ STORAGE_URL: `s3://${s3.bucket}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true });
  const images = await tinyImages(IMAGES);
  const uris: string[] = [];
  for (let i = 0; i < IMAGES; i += 100) {
    await Promise.all(images.slice(i, i + 100).map(async (png, j) => {
      const key = `uploads/${NAMESPACE}/bench-batch/${i + j}.png`;
      await store.put(key, png, { contentType: "image/png" });
      uris[i + j] = `upload:${key}`;
    }));
  }
  log(`${IMAGES} distinct 4×4 PNGs uploaded`);
  const batch = await measure(platform, "batch", async (created) => {
    await created([{ name: "bench-batch", spec: { model: MODEL, cache: false, batch: { inputs: uris } } }]);
  }, 1);
  const singles = await measure(platform, "singles", async (created) => {
    await created(uris.map((uri, i) => ({ name: `bench-single-${i}`, spec: { model: MODEL, cache: false, input: { uri } } })));
  }, IMAGES);
  const ratio = (a: number, b: number) => (b === 0 ? "n/a" : (a / b).toFixed(1));
  console.log(`\nbench:batch — ${IMAGES} images, model ${MODEL}, ${WORKERS} workers × ${CONCURRENCY}`);
  console.log("| run | ImageJob writes | images/s | seconds |\n|---|---|---|---|");
  for (const [name, r] of [["one batch", batch], [`${IMAGES} single jobs`, singles]] as const) {
    console.log(`| ${name} | ${r.writes} | ${(IMAGES / r.seconds).toFixed(1)} | ${r.seconds.toFixed(1)} |`);
  }
  console.log(`\nwrites: single jobs / batch = ${ratio(singles.writes, batch.writes)}×; images/s: batch / single jobs = ${ratio(singles.seconds, batch.seconds)}×`);
  console.log(`batch writes by resource and verb: ${batch.rows.join(", ")}`);
  console.log(`single-job writes by resource and verb: ${singles.rows.join(", ")}`);
  store.close();
} finally {
  await platform.stopProcesses();
  await platform.stack.stop();
}

type Create = (jobs: { name: string; spec: ImageJob["spec"] }[]) => Promise<void>;

/**
 * Runs one side: creates its jobs, waits for every one to end and be deleted (the API's mirror
 * deletes each once recorded), and diffs the apiserver's counters. Polls a LIST each 250 ms (reads,
 * not writes) rather than hold a watch that the apiserver may end in an hour-long run.
 */
async function measure(p: Platform, label: string, run: (create: Create) => Promise<void>, expected: number): Promise<RunResult> {
  const custom = p.kc.makeApiClient(CustomObjectsApi);
  const where = { group: GROUP, version: VERSION, namespace: NAMESPACE, plural: IMAGEJOB_PLURAL };
  const mine = (name: string | undefined) => name?.startsWith(label === "batch" ? "bench-batch" : "bench-single-") === true;
  const ended = new Set<string>();
  const created = new Set<string>();
  let last = 0;
  const before = await apiserverRequests(p.kc);
  const started = Date.now();
  await run(async (jobs) => {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(CLIENTS, jobs.length) }, async () => {
      for (let i = next++; i < jobs.length; i = next++) {
        const { name, spec } = jobs[i]!;
        await custom.createNamespacedCustomObject({ ...where, body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec } });
        created.add(name);
      }
    }));
  });
  log(`${label}: ${expected} ImageJob(s) created`);
  for (;;) {
    const list = (await custom.listNamespacedCustomObject(where)) as { items: ImageJob[] };
    const live = list.items.filter((j) => mine(j.metadata.name));
    const present = new Set(live.map((j) => j.metadata.name!));
    // Ended: seen finished, or already gone (recorded and deleted by the mirror between two polls).
    for (const name of created) if (!ended.has(name) && !present.has(name)) ended.add(name);
    for (const job of live) if (isFinished(job.status?.phase)) ended.add(job.metadata.name!);
    if (ended.size >= expected && last === 0) last = Date.now();
    if (last && live.length === 0) break;
    if (Date.now() - started > 3_600_000) throw new Error(`${label}: ${ended.size} of ${expected} ended, ${live.length} not deleted after an hour`);
    await sleep(250);
  }
  const rows = requestRows(before, await apiserverRequests(p.kc)).filter((r) => r.resource.startsWith("imagejobs") && isWrite(r));
  const writes = rows.reduce((n, r) => n + r.count, 0);
  log(`${label}: done in ${((last - started) / 1000).toFixed(1)} s, ${writes} ImageJob writes`);
  return { writes, seconds: (last - started) / 1000, rows: rows.map((r) => `${r.resource} ${r.verb} ${r.code}: ${r.count}`) };
}
