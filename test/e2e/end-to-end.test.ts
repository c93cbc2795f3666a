import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Queue } from "bullmq";
import { queueName } from "../../common/queue.js";
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { loadConfig } from "../../common/config.js";
import { startApi, eventually, type ApiFixture } from "../support/api-fixture.js";
import { PixelmillClient } from "../../client/index.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import { inferenceRunner } from "../../worker/inference-runner.js";
import { declaredPng } from "../support/inference.js";
import { projectRoot } from "../../devstack/binaries.js";
import { testEnv, uniqueName, s3StorageEnv } from "../support/env.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { INPUT_BUCKETS_ANNOTATION } from "../../common/job/input-grants.js";

/**
 * The walking platform on the real parts: API → ImageJob → operator → BullMQ → ONNX worker →
 * S3 → status, mirrored into Postgres and pushed over SSE.
 */
let api: ApiFixture;
let operator: Operator;
let worker: RunningWorker;
let queuePrefix: string;
/** In INPUT_BUCKETS, granted to no namespace at first, and absent from the S3 server. */
const OTHER_BUCKET = "pm-e2e-not-a-bucket";
const log = createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" });

beforeAll(async () => {
  api = await startApi("e2e");
  const models = await readManifests(join(projectRoot, "models/manifests"));
  await applyManifests(api.kc, models, api.namespace);
  const env = testEnv();
  queuePrefix = uniqueName("e2e");
  operator = await startOperator({ kc: api.kc, redisUrl: env.redisUrl, queuePrefix, namespace: api.namespace, log, retryBaseDelayMs: 200 });
  const config = loadConfig({
    REDIS_URL: env.redisUrl, QUEUE_PREFIX: queuePrefix, WORKER_MODELS: models.map((m) => m.metadata!.name).join(","), WORKER_CONCURRENCY: "2",
    ...s3StorageEnv(env.s3, api.prefix),
    MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-test-models"), INPUT_BUCKETS: `${env.s3.bucket},${OTHER_BUCKET}`,
  });
  worker = await startWorker({ config, log, createRunner: inferenceRunner(config, log) });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await operator?.stop();
  await api?.stop();
});

type JobView = { id: string; status: string; attempts: number; error: { reason: string; message: string } | null; output: { url: string; width: number; height: number; content_type: string; notes: string[] } | null };

async function submit(model: string, image: Buffer, filename = "in.png", params?: object): Promise<Response> {
  const form = new FormData();
  form.set("model", model);
  if (params) form.set("params", JSON.stringify(params));
  form.set("image", new Blob([image]), filename);
  return api.fetch(`${api.url}/v1/jobs`, { method: "POST", body: form });
}

async function finished(id: string, timeoutMs = 60_000): Promise<JobView> {
  return eventually(async () => {
    const job = (await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView;
    return ["succeeded", "failed", "canceled"].includes(job.status) ? job : undefined;
  }, `job ${id} to finish`, timeoutMs);
}

/** The ImageJob once it has succeeded or failed. */
async function settled(name: string): Promise<ImageJob> {
  return eventually(async () => {
    const j = (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name })) as ImageJob;
    return j.status?.phase === "Succeeded" || j.status?.phase === "Failed" ? j : undefined;
  }, `ImageJob ${name} to finish`, 30_000);
}

const randomRgb = (w: number, h: number) => Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + 11) % 256));

describe("one image, end to end", () => {
  it("upscales an upload 2× through HTTP, pixel for pixel", async () => {
    const [w, h] = [9, 7];
    const pixels = randomRgb(w, h);
    const png = await sharp(pixels, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    // Through the typed client (client/): upload, follow the job's events to its end, download.
    const client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
    const { id, status } = await client.submit(png, { model: "resize-x2", filename: "in.png" });
    expect(["pending", "queued"]).toContain(status);
    const job = await client.wait(id);
    expect(job).toMatchObject({ status: "succeeded", attempts: 1, output: { width: 2 * w, height: 2 * h, content_type: "image/png" } });
    const out = await sharp(Buffer.from(await client.download(job))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([out.info.width, out.info.height]).toEqual([2 * w, 2 * h]);
    // Bilinear ×2 with half-pixel centres (models/resize-x2.ts): output (x, y) samples the input
    // at ((x + 0.5) / 2 - 0.5, (y + 0.5) / 2 - 0.5), clamped to the edges; exact in float32.
    const at = (x: number, y: number, c: number) => pixels[(y * w + x) * 3 + c]!;
    let mismatches = 0;
    for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) for (let c = 0; c < 3; c++) {
      const sx = Math.min(Math.max((x + 0.5) / 2 - 0.5, 0), w - 1), sy = Math.min(Math.max((y + 0.5) / 2 - 0.5, 0), h - 1);
      const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
      const [x1, y1] = [Math.min(x0 + 1, w - 1), Math.min(y0 + 1, h - 1)];
      const [fx, fy] = [sx - x0, sy - y0];
      const top = at(x0, y0, c) * (1 - fx) + at(x1, y0, c) * fx;
      const bottom = at(x0, y1, c) * (1 - fx) + at(x1, y1, c) * fx;
      if (out.data[(y * 2 * w + x) * 3 + c] !== Math.round(top * (1 - fy) + bottom * fy)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("runs a manifest applied with the Kubernetes client on an s3:// input, seen in the CR and in GET /v1/jobs", async () => {
    const png = await sharp(randomRgb(16, 16), { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    await api.store.put("inputs/kubectl.png", png, { contentType: "image/png" });
    const env = testEnv();
    const created = await api.createJob("from-kubectl", { model: "grayscale", input: { uri: `s3://${env.s3.bucket}/${api.prefix}/inputs/kubectl.png` } });
    const cr = await eventually(async () => {
      const j = (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name: "from-kubectl" })) as ImageJob;
      return j.status?.phase === "Succeeded" ? j : undefined;
    }, "the CR to succeed", 60_000);
    expect(cr.status?.output).toMatchObject({ width: 16, height: 16, contentType: "image/png" });
    const list = (await (await api.fetch(`${api.url}/v1/jobs?model=grayscale`)).json()) as { items: JobView[] };
    await eventually(async () => {
      const l = (await (await api.fetch(`${api.url}/v1/jobs?model=grayscale`)).json()) as { items: JobView[] };
      return l.items.find((i) => i.id === created.metadata.uid && i.status === "succeeded");
    }, "the mirror to show it");
    expect(list.items.length).toBeGreaterThan(0);
  });

  it("reads s3:// only from buckets granted to the job's namespace: a kubectl ImageJob naming another's fails InputForbidden, unread", async () => {
    const core = api.kc.makeApiClient(CoreV1Api);
    const env = testEnv();
    const elsewhere = uniqueName("e2e-b");
    await core.createNamespace({ body: { metadata: { name: elsewhere, annotations: { [INPUT_BUCKETS_ANNOTATION]: OTHER_BUCKET } } } });
    try {
      // OTHER_BUCKET is in INPUT_BUCKETS but granted only to the other namespace, and does not
      // exist on the S3 server: a read would fail otherwise, so InputForbidden means none was made.
      const uri = `s3://${OTHER_BUCKET}/inputs/x.png`;
      await api.createJob("ungranted", { model: "grayscale", input: { uri }, maxAttempts: 1 });
      const refused = await settled("ungranted");
      expect(refused.status).toMatchObject({
        phase: "Failed", reason: "InputForbidden",
        message: expect.stringContaining(`bucket ${OTHER_BUCKET} is not granted to namespace ${api.namespace} (annotation ${INPUT_BUCKETS_ANNOTATION} on the Namespace)`) as string,
      });
      // Granted to this namespace too: jobs enqueued once the operator has seen the grant get past it.
      await core.patchNamespace(
        { name: api.namespace, body: { metadata: { annotations: { [INPUT_BUCKETS_ANNOTATION]: `${env.s3.bucket},${OTHER_BUCKET}` } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      let n = 0;
      const passed = await eventually(async () => {
        const name = `granted-${++n}`;
        await api.createJob(name, { model: "grayscale", input: { uri }, maxAttempts: 1 });
        const job = await settled(name);
        return job.status?.reason !== "InputForbidden" ? job : undefined;
      }, "a job past the grant check", 60_000);
      expect(passed.status).toMatchObject({ phase: "Failed", message: expect.not.stringMatching(/not granted/) as string });
    } finally {
      await core.deleteNamespace({ name: elsewhere });
    }
  });

  it("detects text: the mask is bright over rendered text and dark elsewhere", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="96"><rect width="100%" height="100%" fill="white"/>
      <text x="20" y="62" font-family="DejaVu Sans, sans-serif" font-size="40" fill="black">Pixelmill 42</text></svg>`;
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const job = await finished(((await (await submit("text-detect", png)).json()) as { id: string }).id);
    expect(job.status).toBe("succeeded");
    const mask = await sharp(Buffer.from(await (await fetch(job.output!.url)).arrayBuffer())).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([mask.info.width, mask.info.height]).toEqual([320, 96]);
    const mean = (x0: number, y0: number, x1: number, y1: number) => {
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += mask.data[y * 320 + x]!;
      return sum / ((x1 - x0) * (y1 - y0));
    };
    const inside = mean(30, 35, 250, 60);
    const outside = (mean(0, 0, 320, 18) + mean(0, 80, 320, 96)) / 2;
    expect(inside).toBeGreaterThan(60);
    expect(outside).toBeLessThan(10);
  });

  it("takes the first frame of an animated GIF and says so in the job's output", async () => {
    const frames = Buffer.concat([Buffer.alloc(6 * 5 * 4, 200), Buffer.alloc(6 * 5 * 4, 30)]);
    const gif = await sharp(frames, { raw: { width: 6, height: 10, channels: 4, pageHeight: 5 } }).gif().toBuffer();
    const res = await submit("resize-x2", gif, "anim.gif");
    expect(res.status).toBe(202);
    const job = await finished(((await res.json()) as { id: string }).id);
    expect(job).toMatchObject({ status: "succeeded", output: { width: 12, height: 10, notes: ["the input has 2 frames; only the first was used"] } });
  });

  it("refuses a text file with 415", async () => {
    const res = await submit("resize-x2", Buffer.from("just some text, not an image"), "notes.txt");
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("fails a PNG declaring 30000×30000 with InputTooLarge, and the worker lives on", async () => {
    const huge = declaredPng(30_000, 30_000);
    const res = await submit("grayscale", huge);
    if (res.status === 202) {
      const job = await finished(((await res.json()) as { id: string }).id);
      expect(job).toMatchObject({ status: "failed", attempts: 1, error: { reason: "InputTooLarge" } });
    } else {
      expect(res.status).toBe(413);
    }
    const small = await sharp(randomRgb(4, 4), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
    expect((await finished(((await (await submit("grayscale", small)).json()) as { id: string }).id)).status).toBe("succeeded");
  });

  it("answers an unknown model with 422 over HTTP, and Failed/InvalidSpec over the Kubernetes API", async () => {
    const png = await sharp(randomRgb(2, 2), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer();
    const res = await submit("no-such-model", png);
    expect(res.status).toBe(422);
    await api.createJob("unknown-model", { model: "no-such-model" });
    const cr = await eventually(async () => {
      const j = (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name: "unknown-model" })) as ImageJob;
      return j.status?.phase === "Failed" ? j : undefined;
    }, "InvalidSpec");
    expect(cr.status).toMatchObject({ phase: "Failed", reason: "InvalidSpec" });
  });

  it("streams queued → running → succeeded over SSE, in order, then closes", async () => {
    // Big enough that the run lasts a few hundred ms, so the Running state is observed rather than coalesced away.
    const png = await sharp(randomRgb(640, 480), { raw: { width: 640, height: 480, channels: 3 } }).png().toBuffer();
    // The model's queue is paused until the stream is open and the job queued, so the stream sees
    // it queued however fast the platform moves (it can be running before a client connects).
    const queue = new Queue(queueName("text-detect"), { connection: { url: testEnv().redisUrl }, prefix: queuePrefix });
    await queue.pause();
    let text: string;
    try {
      const res = await submit("text-detect", png);
      const { id, urls } = (await res.json()) as { id: string; urls: { events: string } };
      const stream = await api.fetch(urls.events);
      await eventually(async () => {
        const view = (await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView;
        return view.status === "queued" ? true : undefined;
      }, `job ${id} to be queued`);
      await queue.resume();
      text = await stream.text(); // the server closes the stream after a terminal state
    } finally {
      await queue.resume();
      await queue.close();
    }
    const statuses = [...text.matchAll(/^data: (.*)$/gm)].map((m) => (JSON.parse(m[1]!) as { status: string }).status);
    const seen = statuses.filter((s, i) => s !== statuses[i - 1]);
    expect(seen.at(-1)).toBe("succeeded");
    const order = ["pending", "queued", "running", "succeeded"];
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort((a, b) => a - b));
    expect(seen).toContain("queued");
    expect(seen).toContain("running");
  });
});
