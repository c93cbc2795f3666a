/**
 * Smoke test of the images hack/images/build.sh built (ADR 0012), on the local stack (devstack):
 *
 * 1. The API image, run by `buildah run` with its own CMD as its own user, migrates a fresh
 *    database and answers /readyz 200; its HEALTHCHECK command passes inside the container; it
 *    serves the web console it was built with at `/` (CONSOLE_DIR's default, /app/web/dist).
 * 2. The worker image, run the same way, is the only worker: the operator (from this repository)
 *    queues one job for a CPU model through the containerised API, and the job succeeds, with the
 *    container's log saying it ran it.
 *
 * Exits 0 when all of that held, 1 with the reason and the containers' log tails otherwise.
 *
 *   node --import tsx hack/images/smoke.ts    (after bases.sh and build.sh; ci.sh runs all three)
 */
import { execFile } from "node:child_process";
import { chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import pg from "pg";
import sharp from "sharp";
import { generateApiKey } from "../../common/auth/api-key.js";
import { PixelmillClient } from "../../client/index.js";
import { projectRoot } from "../../devstack/binaries.js";
import { startComponent } from "../../devstack/components.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { ensureDatabase } from "../../devstack/postgres.js";
import { freePort, startProcess, waitUntil, type Managed } from "../../devstack/processes.js";
import { startStack } from "../../devstack/stack.js";
import { migrate, readMigrations } from "../../prisma/migrate.js";

const execFileAsync = promisify(execFile);
const API_IMAGE = process.env.API_IMAGE ?? "localhost/pixelmill/api:ci";
const WORKER_IMAGE = process.env.WORKER_IMAGE ?? "localhost/pixelmill/worker:ci";
const MODEL = "grayscale";
/** Where a container finds the files mounted into it: readable by its user only. */
const SECRETS = "/run/pixelmill";
const log = (msg: string) => console.log(`[smoke] ${msg}`);

/** The parts of an image's Docker config the test runs by. */
interface ImageConfig {
  Cmd: string[];
  User: string;
  Healthcheck?: { Test: string[] };
  Labels?: Record<string, string>;
  Volumes?: Record<string, object>;
}

async function buildah(...args: string[]): Promise<string> {
  return (await execFileAsync("buildah", args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
}

/** A working container of `image` that runs commands on the host's network, as the image's user. */
class Container {
  private constructor(readonly image: string, readonly name: string, readonly config: ImageConfig, private readonly runArgs: string[]) {}

  static async create(role: string, image: string, env: Record<string, string>, mounts: Record<string, string>): Promise<Container> {
    const config = (JSON.parse(await buildah("inspect", "--type", "image", image)) as { Docker: { config: ImageConfig } }).Docker.config;
    const name = await buildah("from", "--pull=never", "--name", `pixelmill-smoke-${role}-${process.pid}`, image);
    const runArgs = ["--network", "host", ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      ...Object.entries(mounts).flatMap(([host, inside]) => ["--volume", `${host}:${inside}:ro`])];
    return new Container(image, name, config, runArgs);
  }

  /** Starts the image's CMD, logging to `<logDir>/<label>.log`. */
  start(label: string, logDir: string): Managed {
    return startProcess({ name: label, command: "buildah", args: ["run", ...this.runArgs, this.name, "--", ...this.config.Cmd], logPath: join(logDir, `${label}.log`) });
  }

  /** Runs `command` to its end beside whatever runs already; its stdout. */
  exec(command: string[]): Promise<string> {
    return buildah("run", ...this.runArgs, this.name, "--", ...command);
  }

  remove(): Promise<string> {
    return buildah("rm", this.name);
  }
}

const stack = await startStack({ s3: true, log });
const logDir = await mkdtemp(join(tmpdir(), "pixelmill-smoke-"));
const cleanups: Array<() => Promise<unknown>> = [];
const processes: Managed[] = [];
let failed = false;
try {
  await smoke();
  log("both images passed");
} catch (err) {
  failed = true;
  console.error(`[smoke] FAILED: ${err instanceof Error ? err.message : String(err)}`);
  for (const p of processes) console.error(`--- ${p.name} (${p.logPath}):\n${p.tail(40)}`);
} finally {
  for (const p of processes.reverse()) await p.stop(15_000);
  for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(`[smoke] cleanup: ${String(err)}`));
  await stack.stop();
  if (!failed && !process.env.PIXELMILL_KEEP_TMP) await rm(logDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

async function smoke(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kubeconfigPath);
  const namespace = `smoke-${process.pid}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  cleanups.push(() => kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }));
  await applyManifests(kc, await readManifests(join(projectRoot, "models/manifests")), namespace);
  const database = `smoke_${process.pid}`;
  const databaseUrl = await ensureDatabase(stack.postgres.url, database);
  cleanups.push(() => dropDatabase(stack.postgres.url, database));

  // Secrets reach the containers as files (PIXELMILL_ADMIN_KEY_FILE, KUBECONFIG), owned by the image's uid.
  const apiKey = generateApiKey("test");
  const secrets = await mkdtemp(join(tmpdir(), "pixelmill-smoke-secrets-"));
  cleanups.push(() => rm(secrets, { recursive: true, force: true }));
  await writeFile(join(secrets, "admin-key"), apiKey, { mode: 0o600 });
  await writeFile(join(secrets, "kubeconfig"), await readFile(stack.kubeconfigPath), { mode: 0o600 });
  for (const file of ["admin-key", "kubeconfig"]) await chown(join(secrets, file), 1000, 1000);
  const mounts = { [join(secrets, "admin-key")]: `${SECRETS}/admin-key`, [join(secrets, "kubeconfig")]: `${SECRETS}/kubeconfig` };

  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const s3 = stack.s3!;
  const env: Record<string, string> = {
    LOG_LEVEL: "info", KUBECONFIG: `${SECRETS}/kubeconfig`, DATABASE_URL: databaseUrl, REDIS_URL: stack.redis.url, QUEUE_PREFIX: namespace,
    PIXELMILL_NAMESPACE: namespace, PIXELMILL_WATCH_NAMESPACE: namespace, PIXELMILL_ADMIN_KEY_FILE: `${SECRETS}/admin-key`,
    PORT: String(port), PUBLIC_URL: apiUrl, STORAGE_URL: `s3://${s3.bucket}/${namespace}`,
    S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true",
    WORKER_MODELS: MODEL, WORKER_CONCURRENCY: "1", HEALTH_PORT: String(await freePort()), LEADER_ELECTION: "false",
  };

  log(`API image ${API_IMAGE}: its CMD on a fresh database`);
  const api = await Container.create("api", API_IMAGE, env, mounts);
  cleanups.push(() => api.remove());
  await expectNonRoot(api);
  processes.push(api.start("api", logDir));
  await waitUntil("the API image's /readyz to answer 200", async () => (await fetch(`${apiUrl}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 120_000, process: processes.at(-1) });
  const { applied, skipped } = await migrate(databaseUrl, { migrationsDir: join(projectRoot, "prisma/migrations") });
  const expected = (await readMigrations(join(projectRoot, "prisma/migrations"))).length;
  if (applied.length > 0 || skipped.length !== expected) throw new Error(`the API image left migrations to apply: ${applied.join(", ")}`);
  await expectHealthy(api);
  const home = await fetch(`${apiUrl}/`, { headers: { accept: "text/html" } });
  if (home.status !== 200 || !home.headers.get("content-type")?.startsWith("text/html")) {
    throw new Error(`the API image answered GET / with ${home.status} ${home.headers.get("content-type")}: it does not serve the web console`);
  }
  log(`API image: migrated (${expected} migrations), /readyz 200, HEALTHCHECK passes, the console at /`);

  // The operator from this repository: it validates and queues the job for the containerised worker.
  processes.push(startComponent("operator", { ...process.env, ...env, KUBECONFIG: stack.kubeconfigPath, PIXELMILL_ADMIN_KEY_FILE: join(secrets, "admin-key"), HEALTH_PORT: "0" }, logDir));

  log(`worker image ${WORKER_IMAGE}: one ${MODEL} job`);
  const worker = await Container.create("worker", WORKER_IMAGE, env, mounts);
  cleanups.push(() => worker.remove());
  await expectNonRoot(worker);
  if (!worker.config.Volumes?.["/var/cache/pixelmill/models"]) throw new Error("the worker image declares no model-cache volume");
  const workerProc = worker.start("worker", logDir);
  processes.push(workerProc);
  await waitUntil("the worker image to log \"Worker started\"", async () => (await logLines(workerProc)).some((l) => l.msg === "Worker started"), { timeoutMs: 60_000, process: workerProc });
  await expectHealthy(worker);

  const client = new PixelmillClient({ baseUrl: apiUrl, apiKey });
  const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 200, g: 40, b: 10 } } }).png().toBuffer();
  const { id } = await client.submit(png, { model: MODEL, filename: "smoke.png" });
  const job = await Promise.race([client.wait(id), new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`job ${id} did not finish within 90 s`)), 90_000).unref())]);
  if (job.status !== "succeeded") throw new Error(`job ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
  const out = await sharp(Buffer.from(await client.download(job))).metadata();
  if (out.width !== 8 || out.height !== 6) throw new Error(`job ${id}'s output is ${out.width}×${out.height}, not 8×6`);
  const ran = (await logLines(workerProc)).find((l) => l.msg === "Job succeeded" && l.model === MODEL);
  if (!ran) throw new Error(`job ${id} succeeded, but the worker image's log does not say it ran it`);
  log(`worker image: job ${id} succeeded in its container (${String(ran.durationMs)} ms; onnxruntime CUDA EP: ${worker.config.Labels?.["io.pixelmill.onnxruntime-cuda"] ?? "?"})`);
}

/** The image runs as a user other than root, and `buildah run` (like a container runtime) honours it. */
async function expectNonRoot(container: Container): Promise<void> {
  const uid = await container.exec(["id", "-u"]);
  if (!container.config.User || uid === "0") throw new Error(`${container.image} runs as root (USER "${container.config.User}", uid ${uid})`);
}

/** The image's HEALTHCHECK command, run inside the container as a runtime would, exits 0. */
async function expectHealthy(container: Container): Promise<void> {
  const [kind, ...command] = container.config.Healthcheck?.Test ?? [];
  if (kind !== "CMD") throw new Error(`${container.image} has no HEALTHCHECK in exec form`);
  await container.exec(command).catch((err: unknown) => {
    throw new Error(`${container.image}'s HEALTHCHECK failed: ${String(err)}`);
  });
}

async function logLines(proc: Managed): Promise<Array<{ msg?: string; [field: string]: unknown }>> {
  const text = await readFile(proc.logPath, "utf8").catch(() => "");
  return text.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as { msg?: string }];
    } catch {
      return [];
    }
  });
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // FORCE: the containers' pools may not have closed yet.
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
