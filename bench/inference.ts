/**
 * Each built-in model on this machine's CPU (or the execution providers in
 * PIXELMILL_EXECUTION_PROVIDERS), at 256² and 512², through the worker's own job path
 * (worker/process-job.ts: input fetched from a real S3 server, decoded, run by the engine,
 * encoded, uploaded): images/s and the median of each stage the platform records
 * (worker/stage-timings.ts: fetch, decode, pre, run, post, encode, upload), and beside them the
 * bare onnxruntime `session.run` of the same tiles measured in the same run, so the platform's
 * overhead is a ratio: wall ms per image ÷ bare ms per image (and, immune to the machine's load
 * changing between the two, each job's time ÷ its own run). Two modes per size:
 *   batch 1   one job at a time, spec.batching off;
 *   batch C   C jobs at a time (--concurrency), maxBatchSize C: micro-batched (ADR 0019); its
 *             bare run is the batch of C, per image. `npm run bench:batching` compares batching
 *             on and off at equal concurrency.
 * `run` is the job's own session.run calls, waiting for its turn and its batch included; `other`
 * is the job's time in none of the seven: waiting for the worker's one JS thread while other jobs'
 * pre and post run, and sessions looked up (loaded on first use). Models
 * of several graphs (ocr) have no single bare run and show "-". The -hq models take seconds per
 * image on a CPU: they run when named in --models, or with --all.
 *
 *   npx tsx bench/inference.ts [--sizes 256,512] [--runs 3] [--models upscale-x2,ocr] [--all]
 *     [--concurrency 4] [--requests 8] [--delay 5] [--quick]
 *
 * --runs: batch-1 jobs measured (after one warm-up) and bare passes; --requests: batched jobs
 * measured (after C warm-up); --quick: --runs 1 --requests C.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { parse } from "yaml";
import type { ImageModel } from "../common/crd-types.js";
import type { ExecutionProvider } from "../worker/inference/engine.js";
import { decode } from "../worker/inference/image-io.js";
import type { StageTimings } from "../worker/stage-timings.js";
import { bareRunMs, quantile } from "./inference/bare-run.js";
import { runJobs, startBenchStore, type Mode, type ModeResult } from "./inference/job-path.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const quick = flag("quick");
const sizes = arg("sizes", "256,512").split(",").map(Number);
const runs = Number(arg("runs", quick ? "1" : "3"));
const concurrency = Number(arg("concurrency", "4"));
const requests = Number(arg("requests", String(quick ? concurrency : 2 * concurrency)));
const delayMs = Number(arg("delay", "5"));
const only = arg("models", "");
const providers = (process.env.PIXELMILL_EXECUTION_PROVIDERS ?? "cpu").split(",") as ExecutionProvider[];
const manifestsDir = new URL("../models/manifests/", import.meta.url);

/** The stages of a job as the table shows them, in order. */
const STAGES = ["fetch", "decode", "pre", "run", "post", "encode", "upload"] as const satisfies ReadonlyArray<keyof StageTimings>;

/** A picture with edges, gradients and text: what super-resolution and OCR see in practice. */
async function picture(side: number): Promise<Buffer> {
  const font = Math.round(side / 12);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#e8d9c0"/><stop offset="1" stop-color="#6b8fb3"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><circle cx="${side * 0.7}" cy="${side * 0.3}" r="${side / 6}" fill="#c0392b"/>
    <text x="${side * 0.08}" y="${side * 0.6}" font-family="DejaVu Sans" font-size="${font}" fill="#1d2b3a">Invoice 2026-12</text>
    <text x="${side * 0.08}" y="${side * 0.8}" font-family="DejaVu Serif" font-size="${font}" fill="#1d2b3a">Total 41.50 EUR</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const fmt = (ms: number | undefined) => (ms === undefined ? "-" : ms < 10 ? ms.toFixed(1) : ms.toFixed(0));
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

function row(model: string, side: number, mode: Mode, r: ModeResult, bareMs: number | undefined): string {
  const p50 = (pick: (j: ModeResult["jobs"][number]) => number | undefined) => {
    const xs = r.jobs.map(pick).filter((x): x is number => x !== undefined);
    return xs.length ? quantile(xs, 0.5) : undefined;
  };
  const barePerImage = bareMs === undefined ? undefined : bareMs / mode.maxBatchSize;
  const wallPerImage = 1000 / r.imagesPerS;
  const batch = mode.maxBatchSize === 1 ? "1" : `${mode.maxBatchSize} (${r.meanBatch === undefined ? "-" : r.meanBatch.toFixed(1)})`;
  const cells = [
    model, `${side}²`, batch, r.imagesPerS.toFixed(2), ...STAGES.map((s) => fmt(p50((j) => j.timings[s]))),
    fmt(p50((j) => j.wallMs - STAGES.reduce((sum, s) => sum + (j.timings[s] ?? 0), 0))), fmt(p50((j) => j.wallMs)),
    `${p50((j) => j.wallMs / (j.timings.run ?? NaN))?.toFixed(2)}x`, fmt(barePerImage), barePerImage === undefined ? "-" : `${(wallPerImage / barePerImage).toFixed(2)}x`,
  ];
  return `| ${cells.join(" | ")} |`;
}

async function main(): Promise<void> {
  const files = (await readdir(manifestsDir)).filter((f) => f.endsWith(".yaml")).sort();
  const models = await Promise.all(files.map(async (f) => parse(await readFile(new URL(f, manifestsDir), "utf8")) as ImageModel));
  const named = only.split(",").filter(Boolean);
  const chosen = models.filter((m) => (named.length ? named.includes(m.metadata.name!) : flag("all") || !m.metadata.name!.endsWith("-hq")));
  const unknown = named.filter((n) => !models.some((m) => m.metadata.name === n));
  if (unknown.length) throw new Error(`no built-in model ${unknown.join(", ")} (models/manifests/)`);
  const s3 = await startBenchStore();
  const store = s3.store;
  const cacheDir = await mkdtemp(join(tmpdir(), "pixelmill-bench-inference-"));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // Stopped midway: the S3 server and the temp dirs go too.
    process.once(signal, () => void s3.stop().then(() => rm(cacheDir, { recursive: true, force: true })).finally(() => process.exit(130)));
  }
  try {
    const inputs = new Map<number, Buffer>();
    for (const side of sizes) {
      inputs.set(side, await picture(side));
      await store.put(`uploads/bench/${side}.png`, inputs.get(side)!);
    }
    const modes: Mode[] = [
      { maxBatchSize: 1, maxDelayMs: delayMs, clients: 1, jobs: runs },
      { maxBatchSize: concurrency, maxDelayMs: delayMs, clients: concurrency, jobs: requests },
    ];
    console.log(`execution providers: ${providers.join(",")}; jobs through the worker's job processor, input and output on S3 (versitygw); `
      + `batch 1: ${runs} jobs one at a time; batch ${concurrency}: ${requests} jobs ${concurrency} at a time, maxBatchSize ${concurrency}, maxDelayMs ${delayMs} `
      + `(mean images per run in brackets); stage and job columns are medians in ms, other: the job's time in none of them (waiting for the JS thread, sessions looked up); `
      + `job ÷ run: each job's time over its run, median (the same moment, so load cancels out); `
      + `bare: session.run ms per image (median of ${runs}), measured after the mode's jobs; load ${load()}`);
    console.log("");
    console.log(`| model | size | batch | img/s | ${STAGES.join(" | ")} | other | job | job ÷ run | bare | ms/img ÷ bare |`);
    console.log(`|${" --- |".repeat(STAGES.length + 9)}`);
    for (const model of chosen) {
      const name = model.metadata.name!;
      for (const side of sizes) {
        const image = await decode(inputs.get(side)!, 1 << 30);
        for (const mode of modes) {
          const r = await runJobs({ store, cacheDir, providers, model: name, spec: model.spec, inputUri: `upload:uploads/bench/${side}.png`, mode });
          const bare = await bareRunMs(model.spec, image, { batch: mode.maxBatchSize, runs, provider: providers[0]! });
          console.log(row(name, side, mode, r, bare));
        }
      }
    }
  } finally {
    await s3.stop();
    await rm(cacheDir, { recursive: true, force: true });
  }
  console.log("");
  console.log(`load after: ${load()}`);
}

await main();
