import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { createLogger } from "../common/logger.js";
import { startApi, type ApiFixture } from "../test/support/api-fixture.js";
import { startPipeline, type Pipeline } from "../test/support/pipeline.js";
import type { BatchItemListView, JobView } from "../client/index.js";
import { run } from "./run.js";

/** `pixelmill submit --batch-file`, `jobs items` and `jobs manifest` against a real API, operator and worker. */
let api: ApiFixture;
let pipeline: Pipeline;
let dir: string;
beforeAll(async () => {
  api = await startApi("cli-batch");
  pipeline = await startPipeline(api, "cli-batch", createLogger({ level: "silent" }), { queuePrefix: api.prefix });
  dir = await mkdtemp(join(tmpdir(), "pixelmill-cli-batch-"));
}, 120_000);
afterAll(async () => {
  await pipeline?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { PIXELMILL_API_URL: api.url, PIXELMILL_API_KEY: api.key } });
  return { code, stdout, stderr };
}

it("submits a list file as one batch job, waits for it, saves its manifest, and lists its items", async () => {
  const uris: string[] = [];
  for (let i = 0; i < 3; i++) {
    const key = `uploads/${api.namespace}/cli/${i}.png`;
    await api.store.put(key, await sharp({ create: { width: 3, height: 2 + i, channels: 3, background: "#808000" } }).png().toBuffer(), { contentType: "image/png" });
    uris.push(`upload:${key}`);
  }
  const list = join(dir, "list.txt");
  await writeFile(list, `# three images\n${uris.join("\n")}\n\n`);
  const out = join(dir, "out");
  const done = await cli(["--json", "submit", "--batch-file", list, "--model", "resize-x2", "--wait", "--out", out]);
  expect(done.code, done.stderr).toBe(0);
  const view = JSON.parse(done.stdout) as JobView & { file: string };
  expect(view.batch).toMatchObject({ total: 3, succeeded: 3, failed: 0 });
  expect(await readdir(out)).toEqual([`${view.id}.manifest.jsonl`]);
  expect((await readFile(view.file, "utf8")).trim().split("\n")).toHaveLength(3);

  const items = await cli(["--json", "jobs", "items", view.id, "--limit", "2"]);
  const page = JSON.parse(items.stdout) as BatchItemListView;
  expect(page.items.map((i) => [i.index, i.input, i.status])).toEqual([[0, uris[0], "succeeded"], [1, uris[1], "succeeded"]]);
  const next = await cli(["jobs", "items", view.id, "--cursor", page.next_cursor!]);
  expect(next.stdout).toMatch(new RegExp(`^2  succeeded  ${uris[2]}  http`));
  expect((await cli(["jobs", "manifest", view.id])).stdout).toBe(await readFile(view.file, "utf8"));
  // A batch names URIs: FILE arguments with it are a usage error.
  expect((await cli(["submit", "x.png", "--batch-file", list, "--model", "resize-x2"])).code).toBe(2);
}, 120_000);
