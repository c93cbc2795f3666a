import { z } from "zod";
import { readFileSync } from "node:fs";
import { isWellFormedApiKey } from "./auth/api-key.js";
import { DEFAULT_BATCH_KEYS_TTL_SECONDS, DEFAULT_BATCH_MAX_ITEMS, DEFAULT_BATCH_STATUS_INTERVAL_MS } from "./batch.js";
import { ConfigError } from "./errors.js";
import { MAX_TTL_SECONDS_AFTER_FINISHED } from "./job/limits.js";
import { DEFAULT_MIRROR_DELETE_AFTER_SECONDS } from "./job/retention.js";

/** S3 client deadlines when none are configured (also for stores built without config). */
export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 3000;
export const DEFAULT_S3_REQUEST_TIMEOUT_MS = 30_000;
/** OUTPUT_RETENTION_DAYS and RETENTION_SWEEP_INTERVAL_MS when unset (also for APIs built without config). */
export const DEFAULT_OUTPUT_RETENTION_DAYS = 7;
export const DEFAULT_RETENTION_SWEEP_INTERVAL_MS = 600_000;

/**
 * Every setting the processes read, from the environment, parsed once at boot. Defaults are the
 * embedded ones `npm run dev` uses; a bad value stops the process with a message naming it.
 */
const schema = z.object({
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  KUBECONFIG: z.string().optional(),
  /** The platform namespace: shared ImageModels, and the platform tenant that owns the bootstrap admin key. */
  PIXELMILL_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).default("default"),
  /**
   * The bootstrap admin key (an `admin` key of the platform tenant, stored as its hash at API
   * start), or a file holding it (a mounted Kubernetes Secret). One of the two, or neither.
   */
  PIXELMILL_ADMIN_KEY: z.string().optional(),
  PIXELMILL_ADMIN_KEY_FILE: z.string().min(1).optional(),
  /** The operator watches this namespace only; all namespaces when unset. */
  PIXELMILL_WATCH_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default("postgresql://postgres@127.0.0.1:5432/pixelmill"),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default("redis://127.0.0.1:6379"),
  /** Where inputs and outputs live: `s3://bucket[/prefix]` or `file:///absolute/dir`. */
  STORAGE_URL: z.string().regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|file:\/\/\/.+)$/, "must be s3://bucket[/prefix] or file:///absolute/path").default("file:///tmp/pixelmill/storage"),
  S3_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: z.stringbool().default(false),
  /**
   * Where clients reach S3 (an origin, e.g. https://s3.example.com): presigned output URLs are
   * signed for this host. Unset: S3_ENDPOINT (or AWS), as the processes themselves reach it.
   */
  S3_PUBLIC_ENDPOINT: z.url().optional(),
  /** Deadlines of each S3 request: to connect, and to be answered (or for a transfer to stall); the SDK retries. */
  S3_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_S3_CONNECT_TIMEOUT_MS),
  S3_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_S3_REQUEST_TIMEOUT_MS),
  /** BullMQ key prefix: one per deployment sharing a Redis (and one per test). */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default("pixelmill"),
  // API
  /** How clients reach the API: Location headers, SSE links, signed file URLs. */
  PUBLIC_URL: z.url().default("http://localhost:8080"),
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(50 * 1024 * 1024),
  /** POST /v1/models: all the files of one model (an ONNX file, or a TF.js model.json and its shards); more gets 413. */
  MODEL_UPLOAD_MAX_BYTES: z.coerce.number().int().positive().default(512 * 1024 * 1024),
  /** POST /v1/models: how long onnxruntime may take to load an uploaded model before it is refused (422). */
  MODEL_LOAD_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
  /** Requests per API key per minute, unless the key's tenant has its own (tenants.rate_limit_per_minute); ADR 0009. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** Jobs pending, queued or running per tenant (tenants.max_active_jobs overrides). */
  TENANT_MAX_ACTIVE_JOBS: z.coerce.number().int().positive().default(1000),
  /** Bytes uploaded per tenant per UTC day (tenants.max_upload_bytes_per_day overrides). */
  TENANT_MAX_UPLOAD_BYTES_PER_DAY: z.coerce.number().int().positive().default(10 * 1024 ** 3),
  /** Days a finished job's output and upload are kept before the API's sweeper deletes them (tenants.output_retention_days overrides). */
  OUTPUT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(DEFAULT_OUTPUT_RETENTION_DAYS),
  /** Between the API's retention sweeps (every replica runs one; each job's files are deleted once). */
  RETENTION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).default(DEFAULT_RETENTION_SWEEP_INTERVAL_MS),
  OUTPUT_URL_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  /** The built web console (`npm run build` writes web/dist), served under `/`; unset: <package root>/web/dist. */
  CONSOLE_DIR: z.string().min(1).optional(),
  /**
   * A finished ImageJob without its own spec.ttlSecondsAfterFinished is deleted this long after it
   * finished, once the API's mirror has committed its end to Postgres (ADR 0018); 0: at once.
   */
  MIRROR_DELETE_FINISHED_AFTER_SECONDS: z.coerce.number().int().min(0).max(MAX_TTL_SECONDS_AFTER_FINISHED).default(DEFAULT_MIRROR_DELETE_AFTER_SECONDS),
  /** Key for signed output URLs when STORAGE_URL is file:// (S3 presigns with its own keys). */
  URL_SIGNING_SECRET: z.string().min(32).optional(),
  /**
   * How often the API checks storage and Redis in the background (a submit is refused while
   * either was last found unavailable) and the worker checks storage (it takes no jobs while it is
   * unavailable), and how long each check (and each /readyz check of them) may take.
   */
  HEALTH_CHECK_INTERVAL_MS: z.coerce.number().int().min(100).default(2000),
  HEALTH_CHECK_TIMEOUT_MS: z.coerce.number().int().min(100).default(2000),
  /** Between the API's pings on each WebSocket (/v1/ws); a connection that has not answered one by the next is dropped. */
  WS_HEARTBEAT_MS: z.coerce.number().int().min(100).default(20_000),
  /**
   * Webhooks (docs/webhooks.md, ADR 0027). WEBHOOK_SECRETS_KEY: base64 of 32 bytes, the AES-256-GCM
   * key of the tenants' signing secrets in Postgres; unset: jobs with a webhook are refused (422).
   */
  WEBHOOK_SECRETS_KEY: z.base64().refine((v) => Buffer.from(v, "base64").length === 32, "must be base64 of 32 bytes").optional(),
  /** Whether this API process sends webhooks (every replica may: each message is claimed by one). */
  WEBHOOK_SENDER: z.stringbool().default(true),
  /** One attempt's deadline: connecting, sending and the receiver's answer. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** Bytes of a receiver's answer kept with each attempt. */
  WEBHOOK_RESPONSE_EXCERPT_BYTES: z.coerce.number().int().min(0).max(16_384).default(1024),
  /** How often the sender looks for due messages besides being woken (LISTEN webhook_outbox). */
  WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(5000),
  /** Delay before each attempt, comma-separated (ms): the Standard Webhooks schedule, about a day in all. */
  WEBHOOK_RETRY_DELAYS_MS: z.string().default("0,5000,300000,1800000,7200000,18000000,36000000,36000000")
    .transform((v) => v.split(",").map((d) => Number(d.trim()))).pipe(z.array(z.int().min(0)).min(1).max(20)),
  /** How long a rotated-out signing secret keeps signing beside the new one. */
  WEBHOOK_SECRET_GRACE_SECONDS: z.coerce.number().int().min(0).max(30 * 86400).default(86400),
  /** Days a finished message (delivered, dead, refused, disabled, superseded) and its attempts are kept for the delivery listings. */
  WEBHOOK_HISTORY_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** public: webhooks go to public addresses only; any: every address (tests, a development machine). */
  WEBHOOK_ADDRESS_POLICY: z.enum(["public", "any"]).default("public"),
  /** Whether http:// webhook URLs are allowed (tests, a development machine); https only otherwise. */
  WEBHOOK_ALLOW_HTTP: z.stringbool().default(false),
  // operator
  /**
   * ImageJobs the operator reconciles at once (never one job twice at once). Each waits on its
   * status write, so 4 capped it near 28 jobs/s; 16 took submit-to-enqueue from 1.9 s to 72 ms
   * p50 in bench:pipeline.
   */
  OPERATOR_RECONCILE_WORKERS: z.coerce.number().int().min(1).max(256).default(16),
  /**
   * Only the operator holding the Lease `pixelmill-operator` reconciles and autoscales (ADR 0011);
   * in LEADER_ELECTION_NAMESPACE, else PIXELMILL_NAMESPACE. Timings are client-go's defaults.
   */
  LEADER_ELECTION: z.stringbool().default(true),
  LEADER_ELECTION_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).optional(),
  LEADER_ELECTION_LEASE_DURATION_S: z.coerce.number().positive().default(15),
  LEADER_ELECTION_RENEW_DEADLINE_S: z.coerce.number().positive().default(10),
  LEADER_ELECTION_RETRY_PERIOD_S: z.coerce.number().positive().default(2),
  /** A batch ImageJob's status.batch counts are written at most this often while its items move (ADR 0028). */
  BATCH_STATUS_INTERVAL_MS: z.coerce.number().int().min(100).default(DEFAULT_BATCH_STATUS_INTERVAL_MS),
  /** Items a batch may have after expansion; more fails it with reason BatchTooLarge before any runs. */
  BATCH_MAX_ITEMS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_BATCH_MAX_ITEMS),
  /** How long a finished batch's Redis keys (inputs, results, counts) outlive it; the manifest is the record. */
  BATCH_KEYS_TTL_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_BATCH_KEYS_TTL_SECONDS),
  // worker
  /** Models whose queues this worker consumes, comma-separated. */
  WORKER_MODELS: z.string().default("").transform((v) => v.split(",").map((m) => m.trim()).filter(Boolean)),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /**
   * How long a job's lock lives without renewal, and how often workers look for jobs whose lock
   * expired (a worker that died mid-job): BullMQ's 30 s each. Shorter only where kills are rehearsed.
   */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(100).default(30_000),
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
  /** onnxruntime execution providers in order of preference; unavailable ones are skipped with a log line. */
  PIXELMILL_EXECUTION_PROVIDERS: z.string().default("cpu").transform((v) => v.split(",").map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(z.enum(["cuda", "webgpu", "cpu"])).min(1)),
  MODEL_CACHE_DIR: z.string().default("/tmp/pixelmill/models"),
  /** The WorkerPool this worker belongs to (set by the operator's Deployment): it then reports its busy count for the autoscaler. */
  PIXELMILL_POOL: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).optional(),
  /** GPUs of this worker's pod (set by the operator's Deployment from the WorkerPool's spec.gpu): GPU-seconds = run time × this. */
  PIXELMILL_GPUS: z.coerce.number().int().min(0).default(0),
  /**
   * How long a succeeded job's output may stand in for an equal later job's (the result cache,
   * ADR 0015): 7 days by default, the longest OUTPUT_URL_TTL_SECONDS allows; 0 turns the cache off.
   */
  RESULT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(30 * 24 * 3600).default(7 * 24 * 3600),
  /** The worker's pod and namespace (downward API), naming its presence entry. */
  POD_NAME: z.string().min(1).optional(),
  POD_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).optional(),
  /** The worker's and the operator's /healthz and /readyz (readiness probe); 0 turns the server off. */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  /** Decoded images larger than this (width × height) fail with InputTooLarge. */
  MAX_INPUT_PIXELS: z.coerce.number().int().positive().default(40_000_000),
  /** Limits on fetching https:// inputs and model files. */
  FETCH_MAX_BYTES: z.coerce.number().int().positive().default(100 * 1024 * 1024),
  FETCH_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /**
   * Buckets that `s3://` inputs may name, comma-separated (checked by the API and the workers);
   * unset: only STORAGE_URL's bucket when it is s3://, none otherwise (common/job/input-uri.ts inputBuckets).
   */
  INPUT_BUCKETS: z.string().optional().transform((v) => v?.split(",").map((b) => b.trim()).filter(Boolean)),
});

export type Config = z.infer<typeof schema>;

/** The bootstrap admin key from PIXELMILL_ADMIN_KEY or PIXELMILL_ADMIN_KEY_FILE; ConfigError when it is not a well-formed key. */
export function adminKey(config: Pick<Config, "PIXELMILL_ADMIN_KEY" | "PIXELMILL_ADMIN_KEY_FILE">): string | undefined {
  const { PIXELMILL_ADMIN_KEY: inline, PIXELMILL_ADMIN_KEY_FILE: file } = config;
  if (inline !== undefined && file !== undefined) throw new ConfigError("invalid configuration:\n  set PIXELMILL_ADMIN_KEY or PIXELMILL_ADMIN_KEY_FILE, not both");
  let key = inline;
  if (file !== undefined) {
    try {
      key = readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  PIXELMILL_ADMIN_KEY_FILE: cannot read ${file} (${(err as Error).message})`);
    }
  }
  // Said without the value: it is a secret.
  if (key !== undefined && !isWellFormedApiKey(key)) {
    throw new ConfigError(`invalid configuration:\n  ${file === undefined ? "PIXELMILL_ADMIN_KEY" : "PIXELMILL_ADMIN_KEY_FILE"}: not a Pixelmill API key (pm_live_<43 base62>_<6 checksum>, or pm_test_); make one with: npm run --silent key:new`);
  }
  return key;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const config = parsed.data;
  if ((config.S3_ACCESS_KEY_ID === undefined) !== (config.S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError("invalid configuration:\n  S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together");
  }
  if (!(config.LEADER_ELECTION_RETRY_PERIOD_S < config.LEADER_ELECTION_RENEW_DEADLINE_S && config.LEADER_ELECTION_RENEW_DEADLINE_S < config.LEADER_ELECTION_LEASE_DURATION_S)) {
    throw new ConfigError("invalid configuration:\n  LEADER_ELECTION_RETRY_PERIOD_S < LEADER_ELECTION_RENEW_DEADLINE_S < LEADER_ELECTION_LEASE_DURATION_S is required");
  }
  return config;
}
