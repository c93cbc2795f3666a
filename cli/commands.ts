import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { FINISHED, type JobStatus, type JobView, type NewKey, type PixelmillClient, type TenantLimits, type TenantView } from "../client/index.js";
import { addModelCommand } from "./add-model.js";
import { batchJobsCommand, batchOf, countsOf, submitBatch } from "./batch.js";
import { convertTfjsCommand } from "./convert-tfjs.js";
import { exportManifestCommand } from "./export-manifest.js";
import { UsageError, type Io } from "./io.js";
import type { Options } from "./run.js";
import type { WebhookEvent } from "../common/job/webhook-events.js";

export type Command = (ctx: { client: PixelmillClient; args: string[]; options: Options; io: Io }) => Promise<number>;

const OUTPUT_FORMATS = ["png", "webp", "jpeg"] as const;
const STATUSES: readonly JobStatus[] = ["pending", "queued", "running", ...FINISHED];
const EXTENSIONS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "application/json": "json" };

/** `k=v`: true, false and numbers as such, anything else a string. */
export function paramOf(text: string): [string, string | number | boolean] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`--param takes name=value, not "${text}"`);
  const [name, value] = [text.slice(0, eq), text.slice(eq + 1)];
  if (value === "true" || value === "false") return [name, value === "true"];
  if (value.trim() !== "" && Number.isFinite(Number(value))) return [name, Number(value)];
  return [name, value];
}

function print(io: Io, json: boolean | undefined, value: unknown, human: string): void {
  io.stdout(json ? `${JSON.stringify(value)}\n` : `${human}\n`);
}

export function describeJob(j: JobView): string {
  const lines = [`${j.id}  ${j.status}  ${j.model}  created ${j.created_at}  attempts ${j.attempts}${countsOf(j)}`];
  if (j.error) lines.push(`  error: ${j.error.reason}: ${j.error.message}`);
  if (j.output) lines.push(`  output: ${j.output.width ?? "?"}×${j.output.height ?? "?"} ${j.output.content_type ?? ""} ${j.output.url ?? ""}`.trimEnd());
  if (j.output?.cached) lines.push("  cached: the output of an equal earlier job (no inference ran)");
  for (const note of j.output?.notes ?? []) lines.push(`  note: ${note}`);
  return lines.join("\n");
}

const failed = (j: JobView) => j.status !== "succeeded";

/** Image types by file extension, for --direct (the API checks the bytes). */
const IMAGE_TYPES: Record<string, string> = {
  ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif", ".tif": "image/tiff", ".tiff": "image/tiff", ".avif": "image/avif",
};

/** A URI as is; a file's bytes for a multipart submit, or with --direct sent to storage first (POST /v1/uploads), as its upload: URI. */
async function inputOf(client: PixelmillClient, arg: string, direct: boolean | undefined): Promise<Blob | { uri: string }> {
  if (/^(s3|https):\/\/|^upload:/.test(arg)) return { uri: arg };
  const bytes = new Blob([await readFile(arg)]);
  if (!direct) return bytes;
  const contentType = IMAGE_TYPES[extname(arg).toLowerCase()];
  if (!contentType) throw new UsageError(`--direct needs an image file named by its type (${Object.keys(IMAGE_TYPES).join(", ")}): ${arg}`);
  return { uri: await client.uploadFile(bytes, { contentType }) };
}

/** --webhook URL [--webhook-events queued,running,completed,progress] (docs/webhooks.md); the API checks both. */
function webhookOf(options: Options): { webhook?: string; webhookEvents?: WebhookEvent[] } {
  const events = options["webhook-events"]?.split(",").map((e) => e.trim()) as WebhookEvent[] | undefined;
  if (events && !options.webhook) throw new UsageError("--webhook-events needs --webhook");
  return { ...(options.webhook ? { webhook: options.webhook } : {}), ...(events ? { webhookEvents: events } : {}) };
}

export const submitCommand: Command = async ({ client, args, options, io }) => {
  const model = options.model;
  if (!model) throw new UsageError("submit needs --model");
  const format = options["output-format"];
  if (format !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--output-format is one of ${OUTPUT_FORMATS.join(", ")}`);
  if (options.out && !options.wait) throw new UsageError("--out needs --wait");
  const params = options.param ? Object.fromEntries(options.param.map(paramOf)) : undefined;
  const job = {
    model, ...(params ? { params } : {}), ...(format ? { output: { format: format as (typeof OUTPUT_FORMATS)[number] } } : {}), ...(options["no-cache"] ? { cache: false } : {}),
    ...webhookOf(options),
  };
  const batch = await batchOf(options, args);
  if (batch) return submitBatch(client, { ...job, batch }, options, io);
  const submitted = [];
  // No FILE or URI: one job without an input image, for a text-to-image model (--param prompt=...).
  for (const arg of args.length ? args : [undefined]) {
    const input = arg === undefined ? null : await inputOf(client, arg, options.direct);
    const summary = await client.submit(input, { ...job, ...(arg === undefined ? {} : { filename: basename(arg) }) });
    submitted.push({ arg: arg ?? "", id: summary.id });
    if (!options.wait) print(io, options.json, summary, `${summary.id}  ${summary.status}${arg === undefined ? "" : `  ${arg}`}`);
  }
  if (!options.wait) return 0;
  const ends = await Promise.all(submitted.map(async ({ arg, id }) => {
    const view = await client.wait(id, (v) => io.stderr(`${arg ? `${basename(arg)} ` : ""}${id.slice(0, 8)}: ${v.status}${v.error ? ` (${v.error.reason}: ${v.error.message})` : ""}\n`));
    let file: string | undefined;
    if (options.out && view.status === "succeeded") {
      await mkdir(options.out, { recursive: true });
      const ext = EXTENSIONS[view.output?.content_type ?? ""] ?? "bin";
      file = join(options.out, `${basename(arg, extname(arg)) || id}.${model}.${ext}`);
      await writeFile(file, await client.download(view));
    }
    print(io, options.json, { ...view, ...(file ? { file } : {}) }, describeJob(view) + (file ? `\n  saved: ${file}` : ""));
    return view;
  }));
  return ends.some(failed) ? 1 : 0;
};

export const jobsCommand: Command = async ({ client, args, options, io }) => {
  const [sub, id, ...rest] = args;
  if (sub === "list") {
    if (id !== undefined) throw new UsageError("jobs list takes no arguments");
    const status = options.status;
    if (status !== undefined && !STATUSES.includes(status as JobStatus)) throw new UsageError(`--status is one of ${STATUSES.join(", ")}`);
    const limit = options.limit === undefined ? undefined : Number(options.limit);
    if (limit !== undefined && !Number.isInteger(limit)) throw new UsageError("--limit takes a whole number");
    const page = await client.list({ limit, cursor: options.cursor, status: status as JobStatus | undefined, model: options.model });
    const more = page.next_cursor ? `\n(more: --cursor ${page.next_cursor})` : "";
    print(io, options.json, page, (page.items.map(describeJob).join("\n") || "no jobs") + more);
    return 0;
  }
  if (!["get", "cancel", "watch", "items", "manifest"].includes(sub ?? "") || id === undefined || rest.length) {
    throw new UsageError("jobs list | jobs get ID | jobs cancel ID | jobs watch ID | jobs items ID | jobs manifest ID");
  }
  if (sub === "items" || sub === "manifest") return batchJobsCommand(client, sub, id, options, io);
  if (sub === "watch") {
    let last: JobView | undefined;
    for await (last of client.watch(id)) print(io, options.json, last, describeJob(last));
    return last && failed(last) ? 1 : 0;
  }
  const view = sub === "get" ? await client.get(id) : await client.cancel(id);
  print(io, options.json, view, describeJob(view));
  return 0;
};

export const modelsCommand: Command = async ({ client, args, options, io }) => {
  if (args[0] === "convert-tfjs") return convertTfjsCommand(args.slice(1), options, io);
  if (args[0] === "manifest-export") return exportManifestCommand(args.slice(1), options, io);
  if (args[0] === "add") return addModelCommand(client, args.slice(1), options, io);
  // `models` and `models list` both list what GET /v1/models answers.
  if (args.length > (args[0] === "list" ? 1 : 0)) throw new UsageError("models [list] | models add … | models convert-tfjs … | models manifest-export …");
  const models = await client.models();
  const line = (m: (typeof models.items)[number]) =>
    `${m.name}  ${m.task}  ${m.license ?? "no license stated"}${m.params.length ? `  params: ${m.params.map((p) => `${p.name} (${p.type})`).join(", ")}` : ""}`;
  print(io, options.json, models, models.items.map(line).join("\n") || "no models");
  return 0;
};

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A table: columns padded to their widest cell, numbers right-aligned. */
function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((cell, c) => (typeof cell === "number" ? String(cell).padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd()).join("\n");
}

export const usageCommand: Command = async ({ client, args, options, io }) => {
  if (args.length) throw new UsageError("usage takes no arguments");
  for (const name of ["from", "to"] as const) {
    const value = options[name];
    if (value !== undefined && !DAY.test(value)) throw new UsageError(`--${name} takes a UTC day, YYYY-MM-DD`);
  }
  const report = await client.usage({ from: options.from, to: options.to, ...(options.all ? { tenant: "all" as const } : {}) });
  const seconds = (s: number) => Number(s.toFixed(3));
  const rows: (string | number)[][] = [["DAY", "TENANT", "JOBS", "RUN SECONDS", "GPU SECONDS"]];
  for (const r of report.items) rows.push([r.day, r.tenant, r.jobs_succeeded, seconds(r.run_seconds), seconds(r.gpu_seconds)]);
  const human = report.items.length ? table(rows) : `no jobs succeeded from ${report.from} to ${report.to}`;
  print(io, options.json, report, human);
  return 0;
};

export const tenantsCommand: Command = async ({ client, args, options, io }) => {
  const [sub, arg, ...rest] = args;
  if (rest.length) throw new UsageError("too many arguments");
  if (sub === "create" && arg) {
    const created = await client.tenants.create({ name: arg, ...(options.namespace ? { namespace: options.namespace } : {}) });
    print(io, options.json, created, `tenant ${created.name} in namespace ${created.namespace}`);
    return 0;
  }
  if (sub === "list" && arg === undefined) {
    const tenants = await client.tenants.list();
    print(io, options.json, tenants, tenants.map((t) => `${t.name}  ${t.namespace}${t.disabled_at ? "  disabled" : ""}`).join("\n") || "no tenants");
    return 0;
  }
  if (sub === "disable" && arg) {
    const tenant = await client.tenants.disable(arg);
    print(io, options.json, tenant, `disabled ${tenant.name} at ${tenant.disabled_at ?? "?"}: its keys are revoked; namespace ${tenant.namespace} and its jobs stay`);
    return 0;
  }
  if (sub === "limits" && arg) {
    const limits: TenantLimits = {
      ...limitOption(options.rate, "rate", "rate_limit_per_minute"),
      ...limitOption(options["active-jobs"], "active-jobs", "max_active_jobs"),
      ...limitOption(options["upload-bytes"], "upload-bytes", "max_upload_bytes_per_day"),
      ...limitOption(options["retention-days"], "retention-days", "output_retention_days"),
    };
    if (Object.keys(limits).length === 0) throw new UsageError("tenants limits needs --rate, --active-jobs, --upload-bytes or --retention-days (a number, or default)");
    const tenant = await client.tenants.setLimits(arg, limits);
    print(io, options.json, tenant, describeLimits(tenant));
    return 0;
  }
  throw new UsageError("tenants create NAME [--namespace NS] | tenants list | tenants disable NAME | tenants limits NAME [--rate N] [--active-jobs N] [--upload-bytes N] [--retention-days N]");
};

/** `--rate 100` → { rate_limit_per_minute: 100 }; `default` → null; absent → nothing. */
function limitOption(value: string | undefined, flag: string, field: keyof TenantLimits): TenantLimits {
  if (value === undefined) return {};
  if (value === "default") return { [field]: null };
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} takes a positive whole number or "default"`);
  return { [field]: Number(value) };
}

function describeLimits(t: TenantView): string {
  const show = (v: number | null) => (v === null ? "default" : String(v));
  const { rate_limit_per_minute: rate, max_active_jobs: active, max_upload_bytes_per_day: bytes, output_retention_days: days } = t.limits;
  return `${t.name}: rate ${show(rate)}/min per key, active jobs ${show(active)}, upload bytes per day ${show(bytes)}, outputs kept ${show(days)} days`;
}

export const keysCommand: Command = async ({ client, args, options, io }) => {
  const [sub, arg, ...rest] = args;
  if (rest.length) throw new UsageError("too many arguments");
  if (sub === "create" && arg) {
    if (!options.scope?.length) throw new UsageError("keys create needs at least one --scope");
    const body: NewKey = { name: arg, scopes: options.scope as NewKey["scopes"], ...(options.tenant ? { tenant: options.tenant } : {}), ...(options["expires-at"] ? { expires_at: options["expires-at"] } : {}) };
    const created = await client.keys.create(body);
    print(io, options.json, created, `${created.key}\n(id ${created.id}, scopes ${created.scopes.join(" ")}: shown this once)`);
    return 0;
  }
  if (sub === "list" && arg === undefined) {
    const keys = await client.keys.list();
    const line = (k: (typeof keys)[number]) => `${k.id}  ${k.name}  ${k.prefix}…  ${k.tenant}  ${k.scopes.join(" ")}${k.revoked_at ? "  revoked" : ""}`;
    print(io, options.json, keys, keys.map(line).join("\n") || "no keys");
    return 0;
  }
  if (sub === "revoke" && arg) {
    const key = await client.keys.revoke(arg);
    print(io, options.json, key, `revoked ${key.id} (${key.name})`);
    return 0;
  }
  if (sub === "rotate" && arg) {
    const created = await client.keys.rotate(arg);
    print(io, options.json, created, `${created.key}\n(id ${created.id} replaces ${arg}, now revoked; scopes ${created.scopes.join(" ")}: shown this once)`);
    return 0;
  }
  throw new UsageError("keys create NAME --scope S... | keys list | keys revoke ID | keys rotate ID");
};
