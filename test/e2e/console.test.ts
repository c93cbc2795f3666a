import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { build } from "vite";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { API_VERSION, GROUP, IMAGEMODEL_PLURAL, VERSION, WORKERPOOL_PLURAL } from "../../common/crd-types.js";
import { loadConfig } from "../../common/config.js";
import { createLogger } from "../../common/logger.js";
import { BucketStores } from "../../common/storage/bucket-stores.js";
import { readAll } from "../../common/storage/index.js";
import { projectRoot } from "../../devstack/binaries.js";
import { H100 } from "../../devstack/gpu-nodes.js";
import { exportModelSpec, uploadExport } from "../../models/tiny-diffusion/export-spec.js";
import { writeTinyDiffusion } from "../../models/tiny-diffusion/tiny-diffusion.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { inferenceRunner } from "../../worker/inference-runner.js";
import type { Runner } from "../../worker/runner.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import type { JobView } from "../../api/http/schemas.js";
import { startApi, type ApiFixture } from "../support/api-fixture.js";
import { capture, launchChromium, recordProblems, recordRequests, SCREENSHOTS_DIR, type RequestLog } from "../support/browser.js";
import { testEnv, s3StorageEnv } from "../support/env.js";
import { png, randomImage } from "../support/inference.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

/**
 * The web console in Debian's Chromium against the real platform: the API serving a fresh Vite
 * build of web/, the operator, an ONNX worker and S3. It signs in, runs, generates and downloads,
 * checks every page with axe-core and keeps screenshots at desktop and phone widths under
 * test-results/console/ for review by eye. Each step builds on the one before (one page, one
 * session), as a person would go through the console.
 */
const log = createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" });
const MODELS = ["resize-x2", "grayscale", "ocr", "tiny-sdxl"];
let dir: string;
let api: ApiFixture;
let operator: Operator;
let worker: RunningWorker;
let buckets: BucketStores;
let receiver: WebhookReceiver;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let requests: RequestLog;
let problems: string[];
/** axe-core's serious and critical violations, page by page. */
const violations: string[] = [];
/** Jobs made along the way, by what they show. */
const jobs: Record<string, string> = {};

/** A run the test holds at two points: taken by the worker (Running, no step yet), and done (every step told, not encoded). */
interface Hold { model: string; started: Latch; done: Latch }
interface Latch { reached: Promise<void>; release(): void; arrive(): Promise<void> }
/** Every latch made, released at the end whatever happened: a held run would keep the worker from stopping. */
const latches: Latch[] = [];
function latch(): Latch {
  let reach!: () => void, release!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const released = new Promise<void>((r) => (release = r));
  const made = { reached, release, arrive: () => (reach(), released) };
  latches.push(made);
  return made;
}
let hold: Hold | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-console-e2e-"));
  const consoleDir = join(dir, "console");
  await build({ configFile: join(projectRoot, "web/vite.config.ts"), logLevel: "error", build: { outDir: consoleDir, emptyOutDir: true } });
  receiver = await startWebhookReceiver();
  api = await startApi("console", {
    consoleDir,
    webhooks: { secretsKey: randomBytes(32).toString("base64"), addressPolicy: "any", allowHttp: true, pollIntervalMs: 200, retryDelaysMs: [0] },
  });
  // Fast built-in models (resize-x2 is the fixture's), and the tiny diffusion export (random weights: noise, in milliseconds).
  await applyManifests(api.kc, (await readManifests(join(projectRoot, "models/manifests"))).filter((m) => ["grayscale", "ocr"].includes(m.metadata!.name!)), api.namespace);
  await writeTinyDiffusion(join(dir, "export"), { family: "sdxl" });
  const base = await uploadExport(join(dir, "export"), api.store, "models/tiny-sdxl");
  const spec = await exportModelSpec(join(dir, "export"), "text-to-image", base);
  await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEMODEL_PLURAL, body: { apiVersion: API_VERSION, kind: "ImageModel", metadata: { name: "tiny-sdxl" }, spec } });
  // A pool serving them, for the pools page (its Deployment's pods never run: the worker below is in-process).
  await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: WORKERPOOL_PLURAL, body: {
    apiVersion: API_VERSION, kind: "WorkerPool", metadata: { name: "h100" },
    spec: { image: "pixelmill/worker:test", models: MODELS, gpu: { count: 1, product: H100.product }, autoscaling: { minReplicas: 0, maxReplicas: 2 } },
  } });

  const env = testEnv();
  // The API's queue prefix for all: it reads batch items and progress there.
  const config = loadConfig({
    REDIS_URL: env.redisUrl, QUEUE_PREFIX: api.prefix, WORKER_MODELS: MODELS.join(","), WORKER_CONCURRENCY: "2",
    ...s3StorageEnv(env.s3, api.prefix), MODEL_CACHE_DIR: join(dir, "model-cache"),
  });
  buckets = new BucketStores(config);
  operator = await startOperator({
    kc: api.kc, redisUrl: env.redisUrl, queuePrefix: api.prefix, namespace: api.namespace, log, retryBaseDelayMs: 200,
    storage: { store: api.store, bucketStore: buckets.for }, batch: { statusIntervalMs: 300 },
  });
  const inference = inferenceRunner(config, log);
  worker = await startWorker({
    config, log,
    createRunner: (ctx): Runner => {
      const inner = inference(ctx);
      return {
        async run(req) {
          const held = hold?.model === req.modelName ? hold : undefined;
          if (!held) return inner.run(req);
          hold = undefined;
          await held.started.arrive();
          // The encode stage is told once released, so the page shows the last step meanwhile.
          let encoding = false;
          const result = await inner.run({ ...req, onStage: (stage) => (stage === "encode" ? (encoding = true) : req.onStage?.(stage)) });
          await held.done.arrive();
          if (encoding) req.onStage?.("encode");
          return result;
        },
        close: () => inner.close(),
      };
    },
  });

  // This run's pictures only: none left from an earlier run, a failed one's included.
  await rm(SCREENSHOTS_DIR, { recursive: true, force: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  requests = recordRequests(context);
  page = await context.newPage();
  // Playwright's waits (30 s by default) on a loaded two-core machine: a bound, not an assertion.
  page.setDefaultTimeout(60_000);
  problems = recordProblems(page);
}, 120_000);

afterAll(async () => {
  for (const l of latches) l.release();
  await browser?.close();
  await worker?.stop();
  await operator?.stop();
  buckets?.close();
  await api?.stop();
  await receiver?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// A failed step leaves a picture of the page it failed on, and what the page logged.
beforeEach(({ task, onTestFailed }) => {
  onTestFailed(async () => {
    await page?.screenshot({ path: join(SCREENSHOTS_DIR, `failed-${task.name.slice(0, 40).replace(/[^a-z0-9]+/gi, "-")}.png`), fullPage: true });
    console.error(`${task.name}: at ${page?.url()}; the page logged:\n${problems.join("\n")}`);
  });
});

/** Screenshots (desktop and phone) and axe, the violations kept for the last check. */
async function shoot(name: string, opts: { axePhone?: boolean } = {}): Promise<void> {
  violations.push(...(await capture(page, name, opts)));
}

/** The job page's state (its first live region), e.g. state("Running"). */
const state = (label: string) => page.getByRole("status").first().getByText(label, { exact: true });
const button = (name: string | RegExp) => page.getByRole("button", { name, exact: typeof name === "string" });
const link = (name: string | RegExp) => page.getByRole("link", { name, exact: typeof name === "string" });
const heading = (name: string | RegExp) => page.getByRole("heading", { name });

/** Picks the option of `select` whose text names `text` (options show more: task, licence). */
async function choose(select: Locator, text: string): Promise<void> {
  const option = select.locator("option", { hasText: text }).first();
  await select.selectOption((await option.getAttribute("value")) ?? (await option.textContent())!);
}

async function signIn(key: string): Promise<void> {
  await page.getByLabel("API key", { exact: true }).fill(key);
  await button("Sign in").click();
  await page.waitForURL(/\/new$/);
}

async function signOut(): Promise<void> {
  await button("Sign out").click();
  await page.waitForURL(/\/sign-in$/);
}

/** The job page's id once the console has gone there. */
async function jobPage(): Promise<string> {
  await page.waitForURL(/\/jobs\/[^/]+$/);
  return new URL(page.url()).pathname.split("/").at(-1)!;
}

/** The job as the API shows it. */
async function jobView(id: string): Promise<JobView> {
  return (await (await api.fetch(`${api.url}/v1/jobs/${id}`)).json()) as JobView;
}

/** The bytes of the job's output object, read from the store. */
async function storedOutput(id: string): Promise<Buffer> {
  const uri = (await api.jobs.get(api.namespace, id))?.output?.uri ?? "";
  const root = api.store.uri("x").slice(0, -1);
  expect(uri.startsWith(root), uri).toBe(true);
  return readAll((await api.store.get(uri.slice(root.length))).body);
}

/** How long expect.poll waits for the page or the platform to settle (its default is 1 s). */
const settle = { timeout: 30_000, interval: 100 };

/** A small PNG of seeded random pixels: the compare slider has something to show. */
const pngOf = (width: number, height: number, seed: number) => png(randomImage(width, height, seed));

// Bounds for the slow machine, not assertions: a job, OCR model loading included, takes seconds.
describe("the web console", { timeout: 120_000 }, () => {
  it("signs in: a wrong key shows the API's reason, the right one opens New job with the key in sessionStorage only", async () => {
    await page.goto(`${api.url}/`);
    await page.getByLabel("API key", { exact: true }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    expect(requests.foreign(api.url), "/ loads with no request leaving the machine").toEqual([]);
    await shoot("sign-in", { axePhone: true });

    const wrong = "pm_test_" + "0".repeat(40);
    const refused = await fetch(`${api.url}/v1/me`, { headers: { authorization: `Bearer ${wrong}` } });
    expect(refused.status).toBe(401);
    const { detail } = (await refused.json()) as { detail: string };
    await page.getByLabel("API key", { exact: true }).fill(wrong);
    await button("Sign in").click();
    await expect.poll(() => page.getByRole("alert").textContent(), settle).toContain(detail);
    await shoot("sign-in-refused");

    await signIn(api.key);
    await heading("New job").waitFor();
    expect(page.url()).not.toContain(api.key);
    const stored = await page.evaluate(() => {
      const { sessionStorage, localStorage } = globalThis as unknown as Record<"sessionStorage" | "localStorage", { length: number; key(i: number): string | null; getItem(k: string): string | null }>;
      const values = (s: typeof sessionStorage) => Array.from({ length: s.length }, (_, i) => s.getItem(s.key(i)!) ?? "");
      return { session: values(sessionStorage), local: values(localStorage) };
    });
    expect(stored.session.some((v) => v.includes(api.key))).toBe(true);
    expect(stored.local.some((v) => v.includes(api.key))).toBe(false);
  });

  it("processes an upload: the job page follows it to Succeeded and Download saves the output's bytes", async () => {
    await page.getByRole("tab", { name: "Process images" }).click();
    await shoot("new-job-process", { axePhone: true });
    await page.getByLabel("Images", { exact: true }).setInputFiles({ name: "harbour.png", mimeType: "image/png", buffer: await pngOf(24, 16, 40) });
    await choose(page.getByLabel("Model", { exact: true }), "resize-x2");
    await button("Run").click();
    const id = (jobs.processed = await jobPage());
    await heading(new RegExp(`resize-x2.*${id.slice(0, 8)}`)).waitFor();
    await state("Succeeded").waitFor();
    await page.getByRole("img", { name: "Output", exact: true }).waitFor();
    await page.getByRole("slider", { name: "Compare" }).waitFor();
    await shoot("job-succeeded", { axePhone: true });

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download" }).or(link("Download")).click()]);
    expect(download.suggestedFilename()).toBe("harbour.png");
    const saved = await readFile(await download.path());
    expect(Buffer.compare(saved, await storedOutput(id))).toBe(0);
    expect((await sharp(saved).metadata()).width).toBe(48);
  });

  it("reads the text of an image with OCR: boxes over the input and the text to copy", async () => {
    await link("New job").click();
    const text = `<svg xmlns="http://www.w3.org/2000/svg" width="360" height="90"><rect width="100%" height="100%" fill="white"/><text x="20" y="60" font-family="DejaVu Sans" font-size="44" fill="black">PIXELMILL 42</text></svg>`;
    await page.getByLabel("Images", { exact: true }).setInputFiles({ name: "sign.png", mimeType: "image/png", buffer: await sharp(Buffer.from(text)).png().toBuffer() });
    await choose(page.getByLabel("Model", { exact: true }), "ocr");
    await button("Run").click();
    jobs.ocr = await jobPage();
    await state("Succeeded").waitFor();
    await button("Copy text").waitFor();
    await expect.poll(() => page.getByRole("textbox", { name: /^Text \(/ }).inputValue(), settle).toMatch(/PIXELMILL/i);
    await shoot("job-ocr", { axePhone: true });
  });

  it("generates with the tiny diffusion model: Step N of M while it runs, then the result", async () => {
    await link("New job").click();
    await page.getByRole("tab", { name: "Generate" }).click();
    await page.getByLabel("Prompt", { exact: true }).waitFor();
    await shoot("new-job-generate", { axePhone: true });
    await choose(page.getByLabel("Model", { exact: true }), "tiny-sdxl");
    await page.getByLabel("Prompt", { exact: true }).fill("a lighthouse at dusk");
    for (const [label, value] of [["Seed", "11"], ["Steps", "6"], ["Width", "64"], ["Height", "64"]]) await page.getByLabel(label!, { exact: true }).fill(value!);
    hold = { model: "tiny-sdxl", started: latch(), done: latch() };
    const held = hold;
    await button("Generate").click();
    const id = (jobs.generated = await jobPage());
    // Held once the worker took it: the page shows Running, and is following when the steps come.
    await held.started.reached;
    await state("Running").waitFor();
    held.started.release();
    await held.done.reached;
    await page.getByRole("status").first().getByText(/Step 6 of 6/).waitFor();
    await page.getByRole("img", { name: /Preview of the image so far/ }).waitFor();
    await shoot("job-running", { axePhone: true });
    held.done.release();
    await state("Succeeded").waitFor();
    await page.getByRole("img", { name: "Output", exact: true }).waitFor();
    await shoot("generation-result");
    expect((await jobView(id)).output).toMatchObject({ width: 64, height: 64 });
  });

  it("refuses a file that is not an image, naming it, and shows a failed job's reason", async () => {
    await link("New job").click();
    await page.getByRole("tab", { name: "Process images" }).click();
    await page.getByLabel("Images", { exact: true }).setInputFiles({ name: "notes.png", mimeType: "image/png", buffer: Buffer.from("these bytes are not an image\n") });
    await choose(page.getByLabel("Model", { exact: true }), "resize-x2");
    // The client's check, from the file's first bytes, names it before any upload; Run stays off.
    await page.getByRole("alert").filter({ hasText: "notes.png is not an image" }).waitFor();
    expect(await button("Run").isDisabled()).toBe(true);
    await shoot("new-job-bad-file");
    await button("Remove notes.png").click();
    expect(await page.getByRole("alert").count()).toBe(0);

    // A job that fails on the worker: its input is not in the bucket.
    receiver.answer("/failed", 500);
    const res = await api.fetch(`${api.url}/v1/jobs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "resize-x2", input: { uri: `s3://${testEnv().s3.bucket}/${api.prefix}/inputs/never-sent.png` }, webhook: receiver.url("/failed") }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const id = (jobs.failed = ((await res.json()) as { id: string }).id);
    await page.goto(`${api.url}/jobs/${id}`);
    await state("Failed").waitFor();
    const { error } = await jobView(id);
    expect(error).not.toBeNull();
    await expect.poll(() => page.getByRole("alert").allTextContents(), settle).toContainEqual(expect.stringContaining(error!.message));
    await shoot("job-failed", { axePhone: true });
  });

  it("runs three files as one batch job whose items all succeed", async () => {
    await link("New job").click();
    await page.getByRole("tab", { name: "Process images" }).click();
    const files = await Promise.all([0, 1, 2].map(async (i) => ({ name: `tile-${i}.png`, mimeType: "image/png", buffer: await pngOf(12 + i, 10, 60 * i) })));
    await page.getByLabel("Images", { exact: true }).setInputFiles(files);
    await choose(page.getByLabel("Model", { exact: true }), "grayscale");
    await button("Run").click();
    const id = (jobs.batch = await jobPage());
    await state("Succeeded").waitFor();
    expect((await jobView(id)).batch).toMatchObject({ total: 3, succeeded: 3, failed: 0 });
    // One multipart request: no direct upload (the page talks to the API only).
    expect(requests.urls.filter((url) => url.includes("/v1/uploads"))).toEqual([]);
    const rows = page.getByRole("row").filter({ hasText: "Succeeded" });
    await expect.poll(() => rows.count(), settle).toBe(3);
    // Each item under the name its file was sent with.
    for (const f of files) await page.getByRole("row").filter({ hasText: f.name }).waitFor();
    await shoot("job-batch", { axePhone: true });
  });

  it("lists the jobs in History and filters them by status", async () => {
    await link("History").click();
    await heading("History").waitFor();
    for (const id of Object.values(jobs)) await page.locator(`a[href$="/jobs/${id}"]`).first().waitFor();
    await shoot("history", { axePhone: true });
    await choose(page.getByLabel("Status", { exact: true }), "Failed");
    await expect.poll(() => page.locator(`a[href$="/jobs/${jobs.processed}"]`).count(), settle).toBe(0);
    await page.locator(`a[href$="/jobs/${jobs.failed}"]`).first().waitFor();
    await shoot("history-failed");
  });

  it("keeps a key without the admin scope out of the admin pages, naming the scope", async () => {
    await page.goto(`${api.url}/admin/pools`);
    await heading("You don't have access").waitFor();
    await page.getByRole("main").locator("code", { hasText: /^admin$/ }).first().waitFor();
    await shoot("no-access", { axePhone: true });
    expect(await link("Pools").count()).toBe(0);
  });

  it("shows the admin pages to the admin key: pools with a chart, tenants, keys and webhook deliveries", async () => {
    await page.goto(`${api.url}/new`);
    await signOut();
    await signIn(api.adminKey);
    // The operator has sampled the pool at least once (its last-hour chart has a point).
    await expect.poll(async () => {
      const res = await fetch(`${api.url}/v1/pools`, { headers: { authorization: `Bearer ${api.adminKey}` } });
      const { items } = (await res.json()) as { items: Array<{ name: string; namespace: string; history: unknown[] }> };
      return items.find((p) => p.name === "h100" && p.namespace === api.namespace)?.history.length ?? 0;
    }, settle).toBeGreaterThan(0);
    await link("Pools").click();
    await heading("Worker pools").waitFor();
    const pool = page.locator("section.card").filter({ has: heading(new RegExp(`h100\\s+${api.namespace}`)) });
    await pool.getByRole("img", { name: /h100: replicas and jobs, last hour/ }).waitFor();
    await shoot("admin-pools", { axePhone: true });

    await link("Tenants").click();
    await page.getByRole("row").filter({ hasText: "platform" }).first().waitFor();
    await shoot("admin-tenants", { axePhone: true });

    await link("Keys").click();
    await page.getByRole("row").nth(1).waitFor();
    await shoot("admin-keys", { axePhone: true });
    // A key made here is shown once and works; revoked (after a confirm), it no longer does.
    await page.getByLabel("Name", { exact: true }).fill("console-e2e");
    await button("Create key").click();
    const made = await page.getByRole("textbox", { name: "New API key" }).inputValue();
    await button("Copy key").waitFor();
    const me = (key: string) => fetch(`${api.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect((await me(made)).status).toBe(200);
    await shoot("admin-keys-created");
    await button("Done").click();
    await button("Revoke console-e2e").click();
    await button("Yes, revoke console-e2e").click();
    await expect.poll(async () => (await me(made)).status, settle).toBe(401);

    await link("Webhooks").click();
    await button(/^Redeliver/).first().waitFor();
    await shoot("admin-webhooks", { axePhone: true });
  });

  it("made no request off the API's origin, broke no page and met axe's serious and critical rules", () => {
    expect.soft(requests.foreign(api.url)).toEqual([]);
    // The job pages followed their jobs over the WebSocket, on the same host.
    expect.soft(requests.urls.filter((url) => url.startsWith("ws")).length).toBeGreaterThan(0);
    expect.soft(problems.filter((p) => p.startsWith("uncaught") || /Content Security Policy/i.test(p))).toEqual([]);
    expect.soft(violations, violations.join("\n")).toEqual([]);
    expect(existsSync(join(SCREENSHOTS_DIR, "admin-webhooks-phone.png"))).toBe(true);
  });
});
