import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { createLogger } from "../../common/logger.js";
import { PixelmillClient } from "../../client/index.js";
import { run } from "../../cli/run.js";
import { startApi, type ApiFixture } from "../support/api-fixture.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

/**
 * Direct uploads end to end: the file goes from the client straight to S3 (versitygw) by the
 * presigned POST, the job names its upload: URI, and the operator and an ONNX worker run it.
 */
let api: ApiFixture;
let pipeline: Pipeline;
let client: PixelmillClient;
let dir: string;

beforeAll(async () => {
  api = await startApi("e2e-direct");
  pipeline = await startPipeline(api, "e2e-direct", createLogger({ level: "silent" }), { env: { WORKER_MODELS: "resize-x2" } });
  client = new PixelmillClient({ baseUrl: api.url, apiKey: api.key });
  dir = await mkdtemp(join(tmpdir(), "pixelmill-direct-"));
}, 120_000);

afterAll(async () => {
  await pipeline?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("uploads with client.uploadFile, then a JSON job naming the upload: URI runs to success", async () => {
  const png = await sharp({ create: { width: 7, height: 5, channels: 3, background: "#3080c0" } }).png().toBuffer();
  const uri = await client.uploadFile(new Blob([png], { type: "image/png" }));
  expect(uri).toMatch(new RegExp(`^upload:uploads/${api.namespace}/[0-9a-f-]{36}\\.png$`));
  const { id } = await client.submit({ uri }, { model: "resize-x2" });
  const job = await client.wait(id);
  expect(job).toMatchObject({ status: "succeeded", attempts: 1, output: { width: 14, height: 10, content_type: "image/png" } });
});

it("a text file sent as image/png fails its job as InvalidImage after one attempt, without retries", async () => {
  const uri = await client.uploadFile(new Blob([Buffer.from("only text, declared as a PNG\n")]), { contentType: "image/png" });
  const { id } = await client.submit({ uri }, { model: "resize-x2" });
  const job = await client.wait(id);
  expect(job).toMatchObject({ status: "failed", attempts: 1, error: { reason: "InvalidImage" } });
});

it("pixelmill submit --direct sends the file to storage first and runs the job on its upload: URI", async () => {
  const file = join(dir, "cat.jpg");
  await writeFile(file, await sharp({ create: { width: 4, height: 3, channels: 3, background: "#c08030" } }).jpeg().toBuffer());
  let stdout = "";
  let stderr = "";
  const code = await run(["--json", "submit", file, "--direct", "--model", "resize-x2", "--wait", "--out", join(dir, "out")], {
    stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { PIXELMILL_API_URL: api.url, PIXELMILL_API_KEY: api.key },
  });
  expect(code, stderr).toBe(0);
  const view = JSON.parse(stdout.trim().split("\n").at(-1)!) as { id: string; status: string };
  expect(view.status).toBe("succeeded");
  const record = await api.jobs.get(api.namespace, view.id);
  expect(record?.inputUri).toMatch(new RegExp(`^upload:uploads/${api.namespace}/[0-9a-f-]{36}\\.jpg$`));
  expect(await readdir(join(dir, "out"))).toEqual(["cat.resize-x2.png"]);
});
