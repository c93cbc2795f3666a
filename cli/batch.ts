import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BatchItemView, JobRequest, JobView, PixelmillClient } from "../client/index.js";
import { UsageError, type Io } from "./io.js";
import type { Options } from "./run.js";

// Batch jobs from the command line (docs/batch.md): `submit --batch-file` / `--batch-prefix`, `jobs items`, `jobs manifest`.

/** The batch the options ask for, or undefined when they ask for none. */
export async function batchOf(options: Options, args: readonly string[]): Promise<JobRequest["batch"] | undefined> {
  const file = options["batch-file"];
  const prefix = options["batch-prefix"];
  if (file === undefined && prefix === undefined) {
    if (options.glob !== undefined) throw new UsageError("--glob filters --batch-prefix");
    return undefined;
  }
  if (file !== undefined && prefix !== undefined) throw new UsageError("--batch-file or --batch-prefix, not both");
  if (args.length) throw new UsageError("a batch takes its inputs from --batch-file or --batch-prefix, not as FILE|URI arguments");
  if (options.direct) throw new UsageError("--direct sends files; a batch names URIs (upload them first, or use --batch-prefix)");
  if (prefix !== undefined) return { prefix, ...(options.glob === undefined ? {} : { glob: options.glob }) };
  if (options.glob !== undefined) throw new UsageError("--glob filters --batch-prefix");
  // One URI a line; blank lines and # comments are skipped.
  const inputs = (await readFile(file!, "utf8")).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  if (inputs.length === 0) throw new UsageError(`${file} names no inputs (one URI a line)`);
  return { inputs };
}

/** One batch job; with --wait its end, and with --out its manifest saved there. */
export async function submitBatch(client: PixelmillClient, job: Omit<JobRequest, "input">, options: Options, io: Io): Promise<number> {
  const summary = await client.submit(null, job);
  if (!options.wait) {
    io.stdout(options.json ? `${JSON.stringify(summary)}\n` : `${summary.id}  ${summary.status}  batch\n`);
    return 0;
  }
  const view = await client.wait(summary.id, (v) => io.stderr(`${summary.id.slice(0, 8)}: ${v.status}${countsOf(v)}\n`));
  let file: string | undefined;
  if (options.out && view.batch && view.status !== "canceled") {
    await mkdir(options.out, { recursive: true });
    file = join(options.out, `${view.id}.manifest.jsonl`);
    await writeFile(file, await client.manifest(view.id));
  }
  io.stdout(options.json ? `${JSON.stringify({ ...view, ...(file ? { file } : {}) })}\n` : `${view.id}  ${view.status}${countsOf(view)}${file ? `\n  saved: ${file}` : ""}\n`);
  return view.status === "succeeded" ? 0 : 1;
}

/** `  3/10 succeeded, 1 failed, 2 running` for a batch; nothing for a single job. */
export function countsOf(v: JobView): string {
  const b = v.batch;
  if (!b) return "";
  return `  ${b.succeeded}/${b.total ?? "?"} succeeded, ${b.failed} failed, ${b.running} running${b.canceled ? `, ${b.canceled} canceled` : ""}`;
}

/** `jobs items ID` and `jobs manifest ID`. */
export async function batchJobsCommand(client: PixelmillClient, sub: "items" | "manifest", id: string, options: Options, io: Io): Promise<number> {
  if (sub === "manifest") {
    io.stdout(await client.manifest(id));
    return 0;
  }
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && !Number.isInteger(limit)) throw new UsageError("--limit takes a whole number");
  const page = await client.items(id, { limit, cursor: options.cursor });
  if (options.json) {
    io.stdout(`${JSON.stringify(page)}\n`);
    return 0;
  }
  const line = (i: BatchItemView) => `${i.index}  ${i.status}  ${i.input}${i.error ? `  ${i.error.reason}: ${i.error.message}` : ""}${i.output?.url ? `  ${i.output.url}` : ""}`;
  const more = page.next_cursor ? `\n(more: --cursor ${page.next_cursor})` : "";
  io.stdout(`${page.items.map(line).join("\n") || "no items yet"}${more}\n`);
  return 0;
}
