/**
 * Micro-batching (ADR 0019) through the worker's engine: C concurrent requests of one model at
 * one size, with spec.batching off (maxBatchSize 1) and on (maxBatchSize C), each request a full
 * decode → session.run → encode; images/s and p50/p99 latency, the runs' mean batch size, and
 * beside them the floor measured in the same run: a lone request, and the bare onnxruntime
 * session.run at N=1 and N=C. The GPU goal of issue 14 (on ≥ 3× the images/s of off, p99 ≤ 2× a
 * lone request) is checked on each line.
 *
 *   npx tsx bench/batching.ts [--models grayscale,resize-x2,upscale-x2] [--size 256]
 *     [--concurrency 8] [--requests 48] [--delay 5] [--rounds 3]
 *
 * The modes alternate over `rounds` rounds (off first, then on first...) and each line shows the
 * round of median images/s: a shared machine's load shifts between rounds, not within one.
 *   PIXELMILL_EXECUTION_PROVIDERS=webgpu,cpu npx tsx bench/batching.ts   (on a GPU machine)
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { MetricValueWithName } from "prom-client";
import { parse } from "yaml";
import type { ImageModel, ImageModelSpec } from "../common/crd-types.js";
import { Registry } from "../common/metrics.js";
import { Inference, type ExecutionProvider } from "../worker/inference/engine.js";
import { png, randomImage } from "../test/support/inference.js";
import { bareRunMs, closedLoop, quantile } from "./inference/bare-run.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const models = arg("models", "grayscale,resize-x2,upscale-x2").split(",");
const side = Number(arg("size", "256"));
const concurrency = Number(arg("concurrency", "8"));
const requests = Number(arg("requests", "48"));
const delayMs = Number(arg("delay", "5"));
const rounds = Number(arg("rounds", "3"));
const providers = (process.env.PIXELMILL_EXECUTION_PROVIDERS ?? "cpu").split(",") as ExecutionProvider[];

interface Mode {
  imagesPerS: number;
  p50: number;
  p99: number;
  meanBatch: number;
}

/** `total` requests from `clients` concurrent callers, each sending its next when the last is done. */
async function drive(inference: Inference, name: string, spec: ImageModelSpec, inputs: Buffer[], clients: number, total: number): Promise<{ wallMs: number; latencies: number[] }> {
  const latencies: number[] = [];
  const wallMs = await closedLoop(clients, total, async (i) => {
    const started = performance.now();
    await inference.run({ modelName: name, modelVersion: "1", modelSpec: spec, input: inputs[i % inputs.length]!, params: {}, output: { format: "png" } });
    latencies.push(performance.now() - started);
  });
  return { wallMs, latencies };
}

async function batchStats(registry: Registry, model: string): Promise<{ runs: number; images: number }> {
  const values = ((await registry.getSingleMetric("pixelmill_inference_batch_images")?.get())?.values ?? []) as Array<MetricValueWithName<string>>;
  const of = (suffix: string) => values.find((v) => v.metricName === `pixelmill_inference_batch_images_${suffix}` && v.labels.model === model)?.value ?? 0;
  return { runs: of("count"), images: of("sum") };
}

/** One mode on a fresh engine: warmed up with a round of requests, then measured. */
async function measure(name: string, spec: ImageModelSpec, inputs: Buffer[], clients: number, dir: string): Promise<Mode> {
  const metrics = new Registry();
  const inference = new Inference({ cacheDir: dir, executionProviders: providers, maxInputPixels: 1 << 30, fetchMaxBytes: 1 << 30, fetchTimeoutMs: 60_000, log: pino({ level: "silent" }), metrics, concurrency: clients });
  try {
    await drive(inference, name, spec, inputs, clients, clients);
    const before = await batchStats(metrics, name);
    const { wallMs, latencies } = await drive(inference, name, spec, inputs, clients, requests);
    const after = await batchStats(metrics, name);
    const meanBatch = (after.images - before.images) / Math.max(1, after.runs - before.runs);
    return { imagesPerS: (requests * 1000) / wallMs, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), meanBatch };
  } finally {
    await inference.close();
  }
}

function median(modes: Mode[]): Mode {
  return [...modes].sort((a, b) => a.imagesPerS - b.imagesPerS)[Math.floor(modes.length / 2)]!;
}

/** The bare session.run (in this thread, no engine) at batch n: median ms per run. */
async function bare(name: string, spec: ImageModelSpec, n: number): Promise<number> {
  const ms = await bareRunMs(spec, randomImage(side, side, 1), { batch: n, runs: 5, provider: providers[0]! });
  if (ms === undefined) throw new Error(`${name} is not one built-in graph`);
  return ms;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pixelmill-bench-batching-"));
  const inputs = await Promise.all([1, 2, 3, 4].map((seed) => png(randomImage(side, side, seed))));
  console.log(`execution providers: ${providers.join(",")}; ${side}²; ${concurrency} concurrent requests, ${requests} measured per mode and round, ${rounds} rounds; batching on = maxBatchSize ${concurrency}, maxDelayMs ${delayMs}; load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log("model        mode  img/s   p50 ms  p99 ms  batch | lone ms  bare N=1 ms  bare N=C ms (img/s) | on/off img/s  p99/lone  goal");
  try {
    for (const name of models) {
      const spec = (parse(await readFile(new URL(`../models/manifests/${name}.yaml`, import.meta.url), "utf8")) as ImageModel).spec;
      const off = { ...spec, batching: { maxBatchSize: 1 } };
      const on = { ...spec, batching: { maxBatchSize: concurrency, maxDelayMs: delayMs } };
      const lone = await measure(name, off, inputs, 1, dir);
      const offRounds: Mode[] = [];
      const onRounds: Mode[] = [];
      for (let r = 0; r < rounds; r++) {
        const pair = [[off, offRounds], [on, onRounds]] as const;
        for (const [s, into] of r % 2 ? [...pair].reverse() : pair) into.push(await measure(name, s, inputs, concurrency, dir));
      }
      const offMode = median(offRounds);
      const onMode = median(onRounds);
      const bare1 = await bare(name, spec, 1);
      const bareC = await bare(name, spec, concurrency);
      const speedup = onMode.imagesPerS / offMode.imagesPerS;
      const p99Ratio = onMode.p99 / lone.p50;
      const floor = `${lone.p50.toFixed(1).padStart(7)}  ${bare1.toFixed(1).padStart(11)}  ${bareC.toFixed(1).padStart(11)} (${((concurrency * 1000) / bareC).toFixed(0)})`;
      for (const [mode, m] of [["off", offMode], ["on", onMode]] as const) {
        const cells = [name.padEnd(12), mode.padEnd(4), m.imagesPerS.toFixed(1).padStart(6), m.p50.toFixed(1).padStart(7), m.p99.toFixed(1).padStart(7), m.meanBatch.toFixed(1).padStart(6)];
        const tail = mode === "on" ? ` | ${speedup.toFixed(2).padStart(11)}x  ${p99Ratio.toFixed(2).padStart(7)}x  ${speedup >= 3 && p99Ratio <= 2 ? "met" : "not met"}` : "";
        console.log(`${cells.join("  ")} | ${floor}${tail}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

await main();
