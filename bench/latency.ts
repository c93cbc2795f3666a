/**
 * Submit → Succeeded latency of one small image, split by stage, against a running API
 * (`npm run dev` in another terminal). Times are taken by this client from the 202 and the SSE
 * stream, so each stage includes the watch hop that makes it visible to the API.
 *
 *   npx tsx bench/latency.ts [--url http://localhost:8080] [--model resize-x2] [--runs 20]
 *
 * The key is PIXELMILL_API_KEY (what `npm run dev` prints), else the one it keeps in .pixelmill/dev-key.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const url = arg("url", "http://localhost:8080");
const model = arg("model", "resize-x2");
const runs = Number(arg("runs", "20"));
const key = process.env.PIXELMILL_API_KEY ?? readFileSync(".pixelmill/dev-key", "utf8").trim();
const headers = { authorization: `Bearer ${key}` };
const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 120, g: 80, b: 200 } } }).png().toBuffer();

type Stages = { accepted: number; queued: number; running: number; succeeded: number };
const samples: Stages[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const form = new FormData();
  form.set("model", model);
  form.set("image", new Blob([image]), "bench.png");
  const res = await fetch(`${url}/v1/jobs`, { method: "POST", body: form, headers });
  if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${await res.text()}`);
  const accepted = performance.now() - t0;
  const { urls } = (await res.json()) as { urls: { events: string } };
  const seen: Partial<Record<string, number>> = {};
  const stream = await fetch(urls.events, { headers });
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (const m of buffer.matchAll(/^data: (.*)$/gm)) {
      const status = (JSON.parse(m[1]!) as { status: string }).status;
      seen[status] ??= performance.now() - t0;
    }
    buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
  }
  if (seen.succeeded === undefined) throw new Error(`job ended without succeeding: ${JSON.stringify(seen)}`);
  samples.push({ accepted, queued: seen.queued ?? NaN, running: seen.running ?? NaN, succeeded: seen.succeeded });
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};
// Stage split over the runs where every stage was seen; the total over all runs.
const full = samples.filter((s) => Number.isFinite(s.running) && Number.isFinite(s.queued));
const stage = (f: (s: Stages) => number) => median(full.map(f));
const rows: Array<[string, number]> = [
  ["submit → 202 (upload to storage, ImageJob + row created)", stage((s) => s.accepted)],
  ["202 → queued (operator enqueues, writes status, API sees it)", stage((s) => s.queued - s.accepted)],
  ["queued → running (worker takes it, operator writes Running)", stage((s) => s.running - s.queued)],
  ["running → succeeded (fetch, inference, upload, status)", stage((s) => s.succeeded - s.running)],
  ["submit → succeeded (all runs)", median(samples.map((s) => s.succeeded))],
];
console.log(`${runs} runs, model ${model}, 64×64 PNG, medians (ms):`);
for (const [label, ms] of rows) console.log(`  ${label.padEnd(62)} ${ms.toFixed(1)}`);
console.log(`  (stages from the ${full.length}/${runs} runs where Running was seen; a fast job can finish before Running is written)`);
