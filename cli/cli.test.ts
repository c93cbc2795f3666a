import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { createLogger } from "../common/logger.js";
import { startApi, type ApiFixture } from "../test/support/api-fixture.js";
import { startPipeline, type Pipeline } from "../test/support/pipeline.js";
import { GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../common/crd-types.js";
import type { CreatedKey, JobView, KeyView, ModelList, TenantView, UsageView } from "../client/index.js";
import { createHash } from "node:crypto";
import { builtinModel } from "../models/builtin.js";
import { convertTfjsLayers } from "../models/tfjs/convert.js";
import { packageFolder, readTfjsModel } from "../models/tfjs/read.js";
import { projectRoot } from "../devstack/binaries.js";
import { readManifests } from "../devstack/manifests.js";
import { paramOf } from "./commands.js";
import { run } from "./run.js";

/** The CLI against a real API, operator and ONNX worker, as `pixelmill …` would run. */
let api: ApiFixture;
let pipeline: Pipeline;
let dir: string;
let cat: string;

beforeAll(async () => {
  api = await startApi("cli");
  // A worker of a pool with 2 GPUs, as the operator's Deployment would tell it (it runs on the CPU here).
  // The worker also serves byo-resize, a model `models add` adds below.
  const builtins = (await readManifests(join(projectRoot, "models/manifests"))).map((m) => m.metadata!.name);
  pipeline = await startPipeline(api, "cli", createLogger({ level: "silent" }), { env: { PIXELMILL_GPUS: "2", WORKER_MODELS: [...builtins, "byo-resize"].join(",") } });
  dir = await mkdtemp(join(tmpdir(), "pixelmill-cli-"));
  cat = join(dir, "cat.png");
  await writeFile(cat, await sharp({ create: { width: 6, height: 5, channels: 3, background: "#a05030" } }).png().toBuffer());
}, 120_000);

afterAll(async () => {
  await pipeline?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[], key: string = api.key): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { PIXELMILL_API_URL: api.url, PIXELMILL_API_KEY: key } });
  return { code, stdout, stderr };
}

describe("pixelmill", () => {
  it("submit --wait --out writes the result, showing progress on stderr", async () => {
    const out = join(dir, "out");
    const res = await cli(["submit", cat, "--model", "resize-x2", "--param", "strength=0.5", "--wait", "--out", out]);
    expect(res.stderr).toMatch(/cat\.png [0-9a-f]{8}: succeeded/);
    expect(res.code).toBe(0);
    expect(await readdir(out)).toEqual(["cat.resize-x2.png"]);
    const meta = await sharp(join(out, "cat.resize-x2.png")).metadata();
    expect([meta.width, meta.height]).toEqual([12, 10]);
    expect(res.stdout).toContain(`saved: ${join(out, "cat.resize-x2.png")}`);
  });

  it("jobs get --json prints the job; jobs list and models too", async () => {
    const submitted = await cli(["--json", "submit", cat, "--model", "grayscale"]);
    expect(submitted.code).toBe(0);
    const { id } = JSON.parse(submitted.stdout) as { id: string };
    const got = await cli(["jobs", "get", id, "--json"]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id, model: "grayscale" });
    const watched = await cli(["jobs", "watch", id, "--json"]);
    expect(watched.code).toBe(0);
    expect((JSON.parse(watched.stdout.trim().split("\n").at(-1)!) as JobView).status).toBe("succeeded");
    const listed = await cli(["jobs", "list", "--model", "grayscale", "--json"]);
    expect((JSON.parse(listed.stdout) as { items: JobView[] }).items.map((j) => j.id)).toContain(id);
    const models = await cli(["models", "--json"]);
    expect((JSON.parse(models.stdout) as ModelList).items.map((m) => m.name)).toContain("resize-x2");
    const described = await cli(["models"]);
    expect(described.stdout.split("\n")).toEqual(expect.arrayContaining(["grayscale  image-to-image  Apache-2.0", "text-detect  image-to-mask  MIT AND Apache-2.0  params: threshold (number)"]));
  });

  it("models add uploads an ONNX file to the key's tenant, and a job on the added model runs on the worker", async () => {
    const bytes = (await builtinModel("resize-x2"))!;
    const file = join(dir, "resize.onnx");
    await writeFile(file, bytes);
    const contract = join(dir, "contract.yaml");
    await writeFile(contract, "input:\n  range: { min: 0, max: 1 }\noutput:\n  kind: image\n  scale: 2\n");
    const args = ["models", "add", file, "--name", "byo-resize", "--task", "image-to-image", "--contract", contract, "--license", "Apache-2.0", "--origin-url", "https://example.com/resize.onnx"];
    const refused = await cli(args);
    expect([refused.code, refused.stderr]).toEqual([3, expect.stringContaining("Missing scope (HTTP 403): the API key lacks the scope models:write") as string]);

    const writer = (await api.newKey(["jobs:write", "jobs:read", "models:read", "models:write"])).key;
    const added = await cli(["--json", ...args], writer);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    expect(JSON.parse(added.stdout)).toMatchObject({ name: "byo-resize", sha256, license: "Apache-2.0", origin: { url: "https://example.com/resize.onnx" }, output: { kind: "image", scale: 2 } });
    expect((await cli(["models", "list"])).stdout.split("\n")).toContain("byo-resize  image-to-image  Apache-2.0");
    const again = await cli(args, writer);
    expect([again.code, again.stderr]).toEqual([3, expect.stringContaining("Model exists (HTTP 409)") as string]);

    // The worker fetches the stored file from S3, checks its SHA-256 and runs it: 6×5 in, 12×10 out.
    const out = join(dir, "byo");
    const ran = await cli(["submit", cat, "--model", "byo-resize", "--wait", "--out", out], writer);
    expect(ran.code, ran.stderr).toBe(0);
    const meta = await sharp(join(out, "cat.byo-resize.png")).metadata();
    expect([meta.width, meta.height]).toEqual([12, 10]);
  });

  it("models add DIR sends a TF.js folder, which the API converts; usage errors exit 2", async () => {
    const slim = packageFolder("@upscalerjs/esrgan-slim", "models/x2");
    const writer = (await api.newKey(["models:read", "models:write"])).key;
    // A whole manifest as the contract: its spec's input and output are taken.
    const manifest = join(projectRoot, "models/manifests/upscale-x2.yaml");
    const added = await cli(["--json", "models", "add", slim, "--name", "byo-slim", "--task", "image-to-image", "--contract", manifest, "--origin-package", "@upscalerjs/esrgan-slim@1.0.0"], writer);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const sha256 = createHash("sha256").update(convertTfjsLayers(await readTfjsModel(slim))).digest("hex");
    expect(JSON.parse(added.stdout)).toMatchObject({ name: "byo-slim", sha256, origin: { package: "@upscalerjs/esrgan-slim", version: "1.0.0" }, input: { range: { min: 0, max: 255 } } });
    const models = JSON.parse((await cli(["--json", "models", "list"])).stdout) as ModelList;
    expect(models.items.find((m) => m.name === "byo-slim")?.sha256).toBe(sha256);

    expect((await cli(["models", "add", slim, "--name", "x"], writer)).code).toBe(2);
    expect((await cli(["models", "add", slim, "--name", "x", "--task", "text-to-image", "--contract", manifest], writer)).code).toBe(2);
    expect((await cli(["models", "list", "extra"])).code).toBe(2);
  });

  it("exits 1 when a job fails, and 3 with the problem in words when the API refuses", async () => {
    const text = join(dir, "notes.png");
    await writeFile(text, "not an image");
    const refused = await cli(["submit", text, "--model", "grayscale"]);
    expect(refused).toMatchObject({ code: 3, stderr: expect.stringContaining("Unsupported media type (HTTP 415)") as string });

    const badKey = await cli(["jobs", "list"], "pm_test_not-a-key");
    expect(badKey.code).toBe(3);
    expect(badKey.stderr).toMatch(/^pixelmill: Unauthenticated \(HTTP 401\): .+/);
    const unknown = await cli(["jobs", "get", "00000000-0000-0000-0000-000000000000"]);
    expect(unknown).toMatchObject({ code: 3, stderr: expect.stringContaining("Not found (HTTP 404)") as string });

    const huge = join(dir, "huge.png");
    const { declaredPng } = await import("../test/support/inference.js");
    await writeFile(huge, declaredPng(30_000, 30_000));
    const failed = await cli(["submit", huge, "--model", "grayscale", "--wait"]);
    expect(failed.stderr).toContain("failed (InputTooLarge");
    expect(failed.code).toBe(1);
  });

  it("exits 2 on a usage error", async () => {
    expect((await cli(["submit", cat])).code).toBe(2);
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["jobs", "list", "--no-such-option"])).code).toBe(2);
    expect(() => paramOf("novalue")).toThrow(/name=value/);
    expect(paramOf("a=1.5")).toEqual(["a", 1.5]);
    expect(paramOf("b=true")).toEqual(["b", true]);
    expect(paramOf("c=x=y")).toEqual(["c", "x=y"]);
  });

  it("keys create, list and revoke", async () => {
    const created = await cli(["--json", "keys", "create", "ci", "--scope", "jobs:read"], api.adminKey);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as CreatedKey;
    expect(key).toMatchObject({ name: "ci", scopes: ["jobs:read"] });
    expect((await cli(["jobs", "list"], key.key)).code).toBe(0);
    const listed = JSON.parse((await cli(["keys", "list", "--json"], api.adminKey)).stdout) as KeyView[];
    expect(listed.map((k) => k.id)).toContain(key.id);
    expect((await cli(["keys", "revoke", key.id], api.adminKey)).code).toBe(0);
    expect((await cli(["jobs", "list"], key.key)).code).toBe(3);
  });

  it("tenants create and list; a key made for another tenant gets 404 for this tenant's job", async () => {
    const submitted = await cli(["--json", "submit", cat, "--model", "grayscale"]);
    const { id } = JSON.parse(submitted.stdout) as { id: string };
    const name = `cli-other-${id.slice(0, 8)}`;
    const tenant = await cli(["--json", "tenants", "create", name], api.adminKey);
    expect(tenant.code).toBe(0);
    expect(JSON.parse(tenant.stdout)).toMatchObject({ name, namespace: name });
    expect((await cli(["tenants", "list"], api.adminKey)).stdout).toContain(`${name}  ${name}`);
    expect((await cli(["tenants", "list"])).code).toBe(3); // not an admin key: 403
    const created = await cli(["--json", "keys", "create", "theirs", "--tenant", name, "--scope", "jobs:read", "--scope", "jobs:write"], api.adminKey);
    const theirs = (JSON.parse(created.stdout) as CreatedKey).key;
    for (const argv of [["jobs", "get", id], ["jobs", "cancel", id]]) {
      const res = await cli(argv, theirs);
      expect([res.code, res.stderr], argv.join(" ")).toEqual([3, expect.stringContaining("HTTP 404") as string]);
    }
    expect((await cli(["jobs", "get", id])).code).toBe(0); // still there for its own tenant
  });

  it("tenants limits sets and clears a tenant's limits; tenants disable refuses its keys at once", async () => {
    const name = `cli-lim-${Date.now().toString(36)}`;
    expect((await cli(["tenants", "create", name], api.adminKey)).code).toBe(0);
    const set = await cli(["--json", "tenants", "limits", name, "--rate", "30", "--active-jobs", "4", "--upload-bytes", "1048576", "--retention-days", "30"], api.adminKey);
    expect(set.code).toBe(0);
    expect((JSON.parse(set.stdout) as TenantView).limits).toEqual({ rate_limit_per_minute: 30, max_active_jobs: 4, max_upload_bytes_per_day: 1048576, output_retention_days: 30 });
    const cleared = await cli(["tenants", "limits", name, "--rate", "default"], api.adminKey);
    expect(cleared).toMatchObject({ code: 0, stdout: `${name}: rate default/min per key, active jobs 4, upload bytes per day 1048576, outputs kept 30 days\n` });
    expect((await cli(["tenants", "limits", name], api.adminKey)).code).toBe(2);
    expect((await cli(["tenants", "limits", name, "--rate", "fast"], api.adminKey)).code).toBe(2);
    expect((await cli(["tenants", "limits", name, "--rate", "0"], api.adminKey)).stderr).toContain("HTTP 400");

    const theirs = (JSON.parse((await cli(["--json", "keys", "create", "theirs", "--tenant", name, "--scope", "jobs:read"], api.adminKey)).stdout) as CreatedKey).key;
    expect((await cli(["jobs", "list"], theirs)).code).toBe(0);
    const disabled = await cli(["--json", "tenants", "disable", name], api.adminKey);
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ name, disabled_at: expect.any(String) as string });
    expect((await cli(["jobs", "list"], theirs)).stderr).toContain("HTTP 401");
    expect((await cli(["tenants", "disable", name], api.adminKey)).stdout).toMatch(new RegExp(`^disabled ${name} at `));
    expect((await cli(["tenants", "list"], api.adminKey)).stdout).toContain(`${name}  ${name}  disabled`);
    expect((await cli(["tenants", "disable", "platform"], api.adminKey)).stderr).toContain("HTTP 409");
  });

  it("keys rotate prints a working new key; the old one is refused", async () => {
    const created = JSON.parse((await cli(["--json", "keys", "create", "rotating", "--scope", "jobs:read"], api.adminKey)).stdout) as CreatedKey;
    const rotated = await cli(["--json", "keys", "rotate", created.id], api.adminKey);
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as CreatedKey;
    expect(fresh).toMatchObject({ name: "rotating", scopes: ["jobs:read"], revoked_at: null });
    expect(fresh.id).not.toBe(created.id);
    expect((await cli(["jobs", "list"], fresh.key)).code).toBe(0);
    const old = await cli(["jobs", "list"], created.key);
    expect(old).toMatchObject({ code: 3, stderr: expect.stringContaining("HTTP 401") as string });
    const human = await cli(["keys", "rotate", fresh.id], api.adminKey);
    expect(human.stdout).toMatch(/^pm_(live|test)_\S+\n\(id \S+ replaces /);
    expect((await cli(["keys", "rotate", fresh.id], api.adminKey)).stderr).toContain("HTTP 409");
  });

  it("a repeated job is a cache hit: cached, no GPU-seconds, the same bytes; --no-cache runs the model", async () => {
    const image = join(dir, "repeat.png");
    await writeFile(image, await sharp({ create: { width: 7, height: 3, channels: 3, background: "#3060a0" } }).png().toBuffer());
    const views: JobView[] = [];
    for (const extra of [[], [], ["--no-cache"]]) {
      const res = await cli(["--json", "submit", image, "--model", "grayscale", "--output-format", "webp", "--wait", ...extra]);
      expect(res.code).toBe(0);
      views.push(JSON.parse(res.stdout) as JobView);
    }
    expect(views.map((v) => v.output?.cached)).toEqual([false, true, false]);
    const rows = await Promise.all(views.map((v) => api.prisma.job.findUniqueOrThrow({ where: { uid: v.id } })));
    expect(rows[0]!.gpuSeconds).toBeGreaterThan(0);
    expect(rows[1]).toMatchObject({ runSeconds: 0, gpuSeconds: 0 });
    expect(rows[2]!.gpuSeconds).toBeGreaterThan(0);
    const bytes = await Promise.all(views.slice(0, 2).map(async (v) => Buffer.from(await (await fetch(v.output!.url!)).arrayBuffer())));
    expect(bytes[1]!.equals(bytes[0]!)).toBe(true);
    expect(views[1]!.output!.url).not.toBe(views[0]!.output!.url);
    expect((await cli(["jobs", "get", views[1]!.id])).stdout).toContain("cached: the output of an equal earlier job");
  });

  it("a job run by a worker with PIXELMILL_GPUS=2 records its usage; usage --json sums it", async () => {
    // --no-cache: an earlier test ran this very job, whose output the result cache would reuse.
    const submitted = await cli(["--json", "submit", cat, "--model", "grayscale", "--wait", "--no-cache"]);
    expect(submitted.code).toBe(0);
    const { id } = JSON.parse(submitted.stdout) as JobView;
    const record = await api.jobs.get(api.namespace, id);
    const job = (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL, name: record!.name })) as ImageJob;
    const usage = job.status!.output!.usage!;
    expect(usage.gpus).toBe(2);
    expect(usage.runSeconds).toBeGreaterThan(0);
    expect(usage.runSeconds).toBeLessThan(60);
    expect(usage.gpuSeconds).toBeCloseTo(2 * usage.runSeconds, 3);
    // The mirror row carries them; the record may lag the watch by a moment.
    const row = await api.prisma.job.findUniqueOrThrow({ where: { uid: id } });
    expect(row).toMatchObject({ runSeconds: usage.runSeconds, gpuSeconds: usage.gpuSeconds });

    const today = new Date().toISOString().slice(0, 10);
    const res = await cli(["usage", "--json", "--from", today, "--to", today]);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as UsageView;
    expect(report).toMatchObject({ from: today, to: today });
    const [day] = report.items;
    expect(day).toMatchObject({ tenant: "platform", day: today });
    expect(day!.jobs_succeeded).toBeGreaterThanOrEqual(1);
    expect(day!.gpu_seconds).toBeGreaterThanOrEqual(usage.gpuSeconds);
    expect(day!.gpu_seconds).toBeCloseTo(2 * day!.run_seconds, 2);

    const table = await cli(["usage", "--from", today, "--to", today]);
    expect(table.stdout).toMatch(/^DAY\s+TENANT\s+JOBS\s+RUN SECONDS\s+GPU SECONDS\n/);
    expect(table.stdout).toContain(`${today}  platform`);
    const all = await cli(["usage", "--all", "--json"], api.adminKey);
    expect((JSON.parse(all.stdout) as UsageView).items.map((i) => i.tenant)).toContain("platform");
    expect((await cli(["usage", "--all"])).code).toBe(3);
    expect((await cli(["usage", "--from", "March"])).code).toBe(2);
  });
});
