import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, IMAGEMODEL_PLURAL, VERSION, type ImageJob, type ImageModelSpec } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { loadConfig } from "../../common/config.js";
import { startApi, eventually, type ApiFixture } from "../support/api-fixture.js";
import { PixelmillClient } from "../../client/index.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import { inferenceRunner } from "../../worker/inference-runner.js";
import { testEnv, s3StorageEnv } from "../support/env.js";
import { png, randomImage } from "../support/inference.js";
import { readSse, type SseMessage } from "../support/sse.js";
import { exportModelSpec, uploadExport } from "../../models/tiny-diffusion/export-spec.js";
import { writeTinyDiffusion } from "../../models/tiny-diffusion/tiny-diffusion.js";

/**
 * Diffusion through the real platform: a tiny SDXL-interface export (random weights, the real
 * Optimum interfaces) uploaded to S3 and registered as two ImageModels, text-to-image and
 * image-to-image; jobs over HTTP (with step progress on SSE) and as ImageJobs applied with the
 * Kubernetes client; the operator, BullMQ and an ONNX worker between them.
 */
let api: ApiFixture;
let operator: Operator;
let worker: RunningWorker | undefined;
let dir: string;
const log = createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" });
const MODELS = ["tiny-sdxl", "tiny-sdxl-img"];

beforeAll(async () => {
  api = await startApi("diffusion");
  dir = await mkdtemp(join(tmpdir(), "pixelmill-diffusion-e2e-"));
  await writeTinyDiffusion(join(dir, "export"), { family: "sdxl", externalData: ["unet"] });
  const base = await uploadExport(join(dir, "export"), api.store, "models/tiny-sdxl");
  for (const [name, task] of [["tiny-sdxl", "text-to-image"], ["tiny-sdxl-img", "image-to-image"]] as const) {
    const spec: ImageModelSpec = await exportModelSpec(join(dir, "export"), task, base);
    await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEMODEL_PLURAL, body: { apiVersion: API_VERSION, kind: "ImageModel", metadata: { name }, spec } });
  }
  // Progress travels on the queue prefix's channel: the operator and worker share the API's.
  operator = await startOperator({ kc: api.kc, redisUrl: testEnv().redisUrl, queuePrefix: api.prefix, namespace: api.namespace, log, retryBaseDelayMs: 200 });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await operator?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The worker starts on demand, so a test can be following a job before it runs. */
async function ensureWorker(): Promise<void> {
  if (worker) return;
  const env = testEnv();
  const config = loadConfig({
    REDIS_URL: env.redisUrl, QUEUE_PREFIX: api.prefix, WORKER_MODELS: MODELS.join(","), WORKER_CONCURRENCY: "2",
    ...s3StorageEnv(env.s3, api.prefix),
    MODEL_CACHE_DIR: join(dir, "model-cache"),
  });
  worker = await startWorker({ config, log, createRunner: inferenceRunner(config, log) });
}

const client = () => new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
const pixelsOf = async (bytes: Uint8Array) => sharp(Buffer.from(bytes)).raw().toBuffer({ resolveWithObject: true });

describe("text-to-image over HTTP", () => {
  it("runs a prompt with no input image, with step progress and previews on SSE, byte-identical for a seed and different for another", async () => {
    const params = { prompt: "a lighthouse at dusk", seed: 11, steps: 6, width: 64, height: 48, guidance_scale: 5, preview_every: 3 };
    const res = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny-sdxl", params }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    // Following before any worker runs: every step is heard.
    const events = await api.fetch(`${api.url}/v1/jobs/${id}/events`);
    const messages: SseMessage[] = [];
    const stream = (async () => {
      for await (const m of readSse(events)) if (m.event) messages.push(m);
    })();
    // The typed client follows too, hearing the steps through its onProgress.
    const heard: string[] = [];
    let clientConnected = false;
    const followed = client().wait(id, () => (clientConnected = true), (p) => p.step && heard.push(`${p.step.done}/${p.step.total}`));
    await eventually(() => messages.length > 0 && clientConnected, "the first status events");
    await ensureWorker();
    await stream;
    expect((await followed).status).toBe("succeeded");
    expect(heard.at(-1)).toBe("6/6");
    const progress = messages.filter((m) => m.event === "progress").map((m) => JSON.parse(m.data!) as { stage: string; attempt: number; step?: { done: number; total: number }; preview?: string });
    const steps = progress.filter((p) => p.step).map((p) => `${p.step!.done}/${p.step!.total}`);
    // Coalesced (at most one every 250 ms per job), but in order, ending with the last step, and each preview kept.
    expect(steps.at(-1)).toBe("6/6");
    expect(steps).toEqual([...steps].sort((a, b) => Number(a.split("/")[0]) - Number(b.split("/")[0])));
    expect(progress.filter((p) => p.preview).map((p) => p.step?.done)).toEqual([3]);
    expect(progress.find((p) => p.preview)!.preview).toMatch(/^data:image\/png;base64,/);
    expect(progress.filter((p) => p.step).every((p) => p.stage === "inference" && p.attempt === 1)).toBe(true);
    // Progress never reached the ImageJob: its status events are the few phase changes.
    const last = JSON.parse(messages.filter((m) => m.event === "status").at(-1)!.data!) as { status: string; output: { width: number; height: number } };
    expect(last).toMatchObject({ status: "succeeded", output: { width: 64, height: 48 } });

    const first = await client().get(id);
    const bytes = await client().download(first);
    expect((await pixelsOf(bytes)).info).toMatchObject({ width: 64, height: 48 });
    // The same seed again, past the result cache: the same bytes; another seed: others.
    const again = await client().wait((await client().submit(null, { model: "tiny-sdxl", params, cache: false })).id);
    expect(again.output?.cached).toBe(false);
    expect(Buffer.compare(Buffer.from(await client().download(again)), Buffer.from(bytes))).toBe(0);
    const other = await client().wait((await client().submit(null, { model: "tiny-sdxl", params: { ...params, seed: 12 } })).id);
    expect(Buffer.compare(Buffer.from(await client().download(other)), Buffer.from(bytes))).not.toBe(0);
  });

  it("refuses an input image for a text-to-image model, and none for a model that needs one (422 problem)", async () => {
    await ensureWorker();
    const withInput = await api.fetch(`${api.url}/v1/jobs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-sdxl", input: { uri: `s3://${testEnv().s3.bucket}/${api.prefix}/in.png` }, params: { prompt: "x" } }),
    });
    expect(withInput.status).toBe(422);
    expect(withInput.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(((await withInput.json()) as { detail: string }).detail).toMatch(/tiny-sdxl \(task text-to-image\) makes an image from params alone and takes no input image/);
    for (const model of ["tiny-sdxl-img", "resize-x2"]) {
      const without = await api.fetch(`${api.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, params: model === "resize-x2" ? {} : { prompt: "x" } }) });
      expect(without.status).toBe(422);
      expect(((await without.json()) as { detail: string }).detail).toMatch(new RegExp(`${model} \\(task image-to-image\\) needs an input image`));
    }
  });
});

describe("the models", () => {
  it("are listed with their task, the index's sha256 and each file of the export", async () => {
    const { items } = (await (await api.fetch(`${api.url}/v1/models`)).json()) as { items: Array<{ name: string; task: string; sha256: string; components: Record<string, string> }> };
    const model = items.find((m) => m.name === "tiny-sdxl");
    expect(model).toMatchObject({ task: "text-to-image", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
    expect(Object.keys(model!.components)).toEqual(expect.arrayContaining(["unet/model.onnx", "unet/model.onnx_data", "text_encoder_2/model.onnx", "tokenizer_2/vocab.json", "scheduler/scheduler_config.json"]));
  });
});

describe("image-to-image over HTTP", () => {
  it("keeps an upload's size and follows it", async () => {
    await ensureWorker();
    const run = async (seed: number) => {
      const input = await png(randomImage(50, 30, seed));
      const job = await client().wait((await client().submit(input, { model: "tiny-sdxl-img", params: { prompt: "watercolour", seed: 3, steps: 4, strength: 0.5 }, filename: "in.png" })).id);
      expect(job).toMatchObject({ status: "succeeded", output: { width: 50, height: 30 } });
      return Buffer.from(await client().download(job));
    };
    const [a, b] = [await run(1), await run(2)];
    expect((await pixelsOf(a)).info).toMatchObject({ width: 50, height: 30 });
    expect(Buffer.compare(a, b)).not.toBe(0);
  });
});

describe("ImageJobs applied with the Kubernetes client", () => {
  const create = (name: string, spec: object) => api.custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, body: { apiVersion: API_VERSION, kind: "ImageJob", metadata: { name }, spec },
  });
  const settled = (name: string) => eventually(async () => {
    const j = (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name })) as ImageJob;
    return j.status?.phase === "Succeeded" || j.status?.phase === "Failed" ? j : undefined;
  }, `ImageJob ${name} to finish`, 60_000);

  it("runs a text-to-image ImageJob without spec.input", async () => {
    await ensureWorker();
    await create("prompt-only", { model: "tiny-sdxl", params: { prompt: "a red bicycle", seed: 5, steps: 3, width: 32, height: 32 } });
    const job = await settled("prompt-only");
    expect(job.status).toMatchObject({ phase: "Succeeded", output: { width: 32, height: 32, contentType: "image/png" } });
    expect(job.status!.output!.uri).toMatch(/^s3:\/\//);
  });

  it("fails, as InvalidSpec with the reason, an ImageJob whose input does not suit its model", async () => {
    await create("needs-input", { model: "tiny-sdxl-img", params: { prompt: "x" } });
    await create("takes-none", { model: "tiny-sdxl", input: { uri: `s3://${testEnv().s3.bucket}/x.png` }, params: { prompt: "x" } });
    expect((await settled("needs-input")).status).toMatchObject({ phase: "Failed", reason: "InvalidSpec", message: expect.stringMatching(/needs an input image/) as unknown });
    expect((await settled("takes-none")).status).toMatchObject({ phase: "Failed", reason: "InvalidSpec", message: expect.stringMatching(/takes no input image/) as unknown });
  });
});
