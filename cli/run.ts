import { parseArgs } from "node:util";
import { PixelmillApiError, PixelmillClient } from "../client/index.js";
import { jobsCommand, keysCommand, modelsCommand, submitCommand, tenantsCommand, usageCommand, type Command } from "./commands.js";
import { UsageError, type Io } from "./io.js";

export { type Io } from "./io.js";

/** Exit codes: 0 done, 1 a job failed (or was canceled), 2 a usage error, 3 the API refused or could not be reached. */
export const EXIT = { ok: 0, jobFailed: 1, usage: 2, api: 3 } as const;

export const USAGE = `usage: pixelmill [--json] [--url URL] [--key KEY] COMMAND

  submit [FILE|URI...] --model M [--param k=v]... [--output-format png|webp|jpeg] [--no-cache] [--direct] [--wait] [--out DIR]
             [--webhook URL [--webhook-events queued,running,completed,progress]]   (signed POSTs of the job's events; docs/webhooks.md)
  submit --batch-file LIST.txt | --batch-prefix s3://B/P/|upload:P/ [--glob G]  --model M [...] [--wait] [--out DIR]
             (one batch job: LIST.txt holds one input URI a line; --out saves its manifest)
             (--direct: each FILE goes straight to storage first, POST /v1/uploads, and the job names its upload: URI)
  jobs list [--status S] [--model M] [--limit N] [--cursor C]
  jobs items ID [--limit N] [--cursor C] | jobs manifest ID   (a batch job's items; its manifest once finished)
  jobs get|cancel|watch ID
  models [list]
  models add FILE.onnx|TFJS_DIR --name N --task image-to-image|image-to-mask --contract FILE.yaml|json
             [--license SPDX] [--origin-url URL | --origin-package PKG@VERSION]   (models:write; to your tenant)
  models convert-tfjs DIR --out FILE.onnx   (local: a TF.js layers model → ONNX; exit 1 if it cannot)
  models manifest-export DIR --name N --source s3://BUCKET/PREFIX/ [--task text-to-image|image-to-image] [--license SPDX]
             (local: the ImageModel YAML of a diffusion export folder uploaded to PREFIX, every file pinned; docs/diffusion.md)
  keys create NAME --scope S... [--tenant T] [--expires-at ISO-8601]
  keys list
  keys revoke ID
  keys rotate ID
  tenants create NAME [--namespace NS]   (admin)
  tenants list                           (admin)
  tenants disable NAME                   (admin: revokes its keys; its namespace and jobs stay)
  tenants limits NAME [--rate N] [--active-jobs N] [--upload-bytes N] [--retention-days N]   (admin; "default" clears one)
  usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--all]

PIXELMILL_API_URL (default http://localhost:8080) and PIXELMILL_API_KEY name the API and the key;
--url and --key override them. --json prints JSON (one document per line) for scripts.
Exit codes: 0 ok, 1 a job failed, 2 usage error, 3 API error.
`;

const OPTIONS = {
  json: { type: "boolean" },
  url: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
  model: { type: "string", short: "m" },
  param: { type: "string", short: "p", multiple: true },
  "output-format": { type: "string" },
  "no-cache": { type: "boolean" },
  webhook: { type: "string" },
  "webhook-events": { type: "string" },
  direct: { type: "boolean" },
  "batch-file": { type: "string" },
  "batch-prefix": { type: "string" },
  glob: { type: "string" },
  wait: { type: "boolean", short: "w" },
  out: { type: "string", short: "o" },
  status: { type: "string" },
  limit: { type: "string" },
  cursor: { type: "string" },
  scope: { type: "string", multiple: true },
  tenant: { type: "string" },
  namespace: { type: "string" },
  "expires-at": { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  all: { type: "boolean" },
  rate: { type: "string" },
  "active-jobs": { type: "string" },
  "upload-bytes": { type: "string" },
  "retention-days": { type: "string" },
  name: { type: "string" },
  task: { type: "string" },
  contract: { type: "string" },
  license: { type: "string" },
  "origin-url": { type: "string" },
  "origin-package": { type: "string" },
  source: { type: "string" },
} as const;

export type Options = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

const COMMANDS: Record<string, Command> = { submit: submitCommand, jobs: jobsCommand, models: modelsCommand, keys: keysCommand, tenants: tenantsCommand, usage: usageCommand };

/** Runs the CLI on `argv` (without node and the script); the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.stderr(`pixelmill: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [name, ...args] = positionals;
  if (values.help || name === "help") {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    io.stderr(`pixelmill: ${name === undefined ? "a command is needed" : `unknown command "${name}"`}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const client = new PixelmillClient({
    baseUrl: values.url ?? io.env.PIXELMILL_API_URL ?? "http://localhost:8080",
    apiKey: values.key ?? io.env.PIXELMILL_API_KEY,
  });
  try {
    return await command({ client, args, options: values, io });
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`pixelmill: ${err.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof PixelmillApiError) {
      const { title, detail, status } = err.problem;
      const issues = Array.isArray(err.problem.errors) ? err.problem.errors.map((i) => `\n  ${i.path.join(".") || "(body)"}: ${i.message}`).join("") : "";
      io.stderr(`pixelmill: ${title} (HTTP ${status}): ${detail}${issues}\n`);
      return EXIT.api;
    }
    // fetch's own failures (nothing listening, DNS) say what happened in their cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message;
    const where = err instanceof TypeError ? ` (the API at ${client.baseUrl})` : "";
    io.stderr(`pixelmill: ${(err as Error).message}${where}${why ? `: ${why}` : ""}\n`);
    return EXIT.api;
  }
}
