import type { ImageJob, ImageModel, WorkerPool } from "../../common/crd-types.js";
import type { PoolSample } from "../../common/pool-history.js";
import type { GraphSignature } from "./model-fit.js";
import type { ImageJobPhase } from "../../common/job/phases.js";
import type { JobRecord } from "./job-record.js";
import type { LimitOverrides } from "./limits.js";
import type { Scope } from "./principal.js";

/** Position after which a page starts: the (created_at, uid) of the last item of the page before. */
export interface JobCursor {
  createdAt: Date;
  uid: string;
}

export interface JobListQuery {
  namespace: string;
  phase?: ImageJobPhase;
  model?: string;
  /** Created at or after this instant. */
  createdFrom?: Date;
  /** Created before this instant. */
  createdBefore?: Date;
  limit: number;
  after?: JobCursor;
}

/** The Postgres mirror of ImageJobs. */
export interface JobRepository {
  /** Inserts the record, or replaces the stored one if it holds an older resourceVersion; true when it wrote. */
  upsert(record: JobRecord): Promise<boolean>;
  /**
   * upsert for many records in one statement: each job's newest record (by resourceVersion) is
   * written where it is newer than the row, as upserting them one by one would leave the rows.
   * Per UID: whether it wrote, and then the row's deleted_at (an earlier one is kept). Throws
   * UnstorableJobError when any record cannot be stored (the caller then writes them one by one).
   */
  upsertMany(records: readonly JobRecord[]): Promise<Map<string, UpsertOutcome>>;
  /** Marks the job gone from the apiserver; the stored record, or undefined if there is none. */
  markDeleted(uid: string, at: Date): Promise<JobRecord | undefined>;
  /**
   * Records the job as Canceled (and gone) unless it has already ended; the stored record. The
   * mirror never moves a Canceled row to another phase afterwards.
   */
  markCanceled(uid: string, at: Date, error: { reason: string; message: string }): Promise<JobRecord | undefined>;
  /**
   * After a full list of every namespace: settles the jobs that the list no longer has, deleted while
   * nobody watched. Each is marked deleted, and one not yet finished becomes Canceled with
   * `unseenEnd` as its error (its ImageJob is gone, so its end cannot be known). A record newer
   * than the list (a job created as it was taken) is left alone: newer means a resourceVersion
   * past the list's and created after `list.takenAt` less CLOCK_MARGIN; a record from an earlier
   * cluster (`npm run dev`'s database outlives its etcd) may have any resourceVersion, but it is old.
   */
  settleMissing(present: readonly string[], list: { resourceVersion: bigint; takenAt: Date }, unseenEnd: { reason: string; message: string }): Promise<JobRecord[]>;
  get(namespace: string, uid: string): Promise<JobRecord | undefined>;
  /** Newest first, by created_at then uid. */
  list(query: JobListQuery): Promise<JobRecord[]>;
  /** Jobs of the namespace not finished (Pending, Queued, Running) and not deleted: the active-jobs cap. */
  countActive(namespace: string): Promise<number>;
  /**
   * Succeeded jobs per tenant per UTC day of finished_at in [from, until): of `tenant` only, or of
   * every tenant (jobs of a namespace no tenant has are left out). By day, then tenant name.
   */
  usage(q: { from: Date; until: Date; tenant?: { name: string; namespace: string } }): Promise<UsageRow[]>;
}

/** What upsertMany did to one job's row. */
export type UpsertOutcome = { wrote: true; deletedAt: Date | null } | { wrote: false };

/** One tenant's usage on one UTC day. */
export interface UsageRow {
  tenant: string;
  /** YYYY-MM-DD (UTC) */
  day: string;
  jobsSucceeded: number;
  runSeconds: number;
  gpuSeconds: number;
}

/** Bytes uploaded per tenant per UTC day, shared by every API replica (the upload-bytes-per-day cap). */
export interface UploadCounter {
  /** Adds `bytes` (negative to take them back) to the day's total, kept `ttlSeconds` more; the new total. */
  add(tenantId: string, day: string, bytes: number, ttlSeconds: number): Promise<number>;
  total(tenantId: string, day: string): Promise<number>;
}

/** What the request limiter said of one request. */
export interface RateDecision {
  allowed: boolean;
  /** Requests the key may make per window. */
  limit: number;
  windowSeconds: number;
  /** Left in this window after this request. */
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/** Requests per API key per window, shared by every API replica. */
export interface RequestLimiter {
  /** Counts one request of `keyId` against `limit` a minute; rejects when the limiter cannot be reached. */
  take(keyId: string, limit: number): Promise<RateDecision>;
}

/** What an earlier request with the same Idempotency-Key left. */
export interface IdempotencyEntry {
  requestHash: string;
  /** Null while that request is still creating its job. */
  jobUid: string | null;
}

/** Idempotency-Key claims, one per (namespace, key). */
export interface IdempotencyRepository {
  /**
   * Claims the key for a request: `claimed` when no live entry held it (none, older than
   * `ttlMs`, or one left pending longer than `pendingMs` by a request that died). Otherwise the
   * live entry, or undefined when it vanished meanwhile (its request failed): claim again.
   */
  claim(namespace: string, key: string, requestHash: string, ttlMs: number, pendingMs: number): Promise<{ claimed: true } | { claimed: false; entry?: IdempotencyEntry }>;
  /** Records the job the claim created. */
  complete(namespace: string, key: string, jobUid: string): Promise<void>;
  /** Gives up a claim whose request failed, so a retry may try again. */
  release(namespace: string, key: string, requestHash: string): Promise<void>;
  /** Deletes entries older than `olderThan`; how many. */
  prune(olderThan: Date): Promise<number>;
}

/** The apiserver, as the API's use cases need it. */
export interface Cluster {
  /** Creates the ImageJob in its metadata.namespace; JobRejectedError when the apiserver refuses it as invalid. */
  createJob(job: ImageJob): Promise<ImageJob>;
  /**
   * Deletes this very ImageJob (UID precondition); the object as it was when deleted, or
   * undefined when it was gone already (or the name now holds another job).
   */
  deleteJob(namespace: string, name: string, uid: string): Promise<ImageJob | undefined>;
  /** The model a job in `namespace` gets by this name: the namespace's own, else the platform's (ADR 0007). */
  getModel(namespace: string, name: string): Promise<ImageModel | undefined>;
  /** The models jobs in `namespace` may name: the platform's, and the namespace's own winning by name. */
  listModels(namespace: string): Promise<ImageModel[]>;
  /**
   * Creates the ImageModel in its metadata.namespace: ModelExistsError when the name is taken
   * there (a platform model of that name does not count), ModelRejectedError when the apiserver
   * refuses it as invalid. `dryRun`: the apiserver checks all of that and stores nothing.
   */
  createModel(model: ImageModel, opts?: { dryRun?: boolean }): Promise<ImageModel>;
  /** Creates the namespace labelled for the tenant, or labels it when it exists (an adopted one). */
  ensureNamespace(namespace: string, tenant: string): Promise<void>;
  /**
   * The buckets the namespace's `pixelmill.io/input-buckets` annotation grants to its `s3://`
   * inputs (common/job/input-grants.ts); none for a namespace without it. May be a few seconds old.
   */
  grantedInputBuckets(namespace: string): Promise<string[]>;
}

/** Loads a model file as a worker would, to learn its graph's inputs and outputs. */
export interface ModelInspector {
  /** InvalidModelError when onnxruntime cannot load the file, or not within its time. */
  inspect(path: string): Promise<GraphSignature>;
}

/** A tenant: one namespace of jobs, uploads and models. */
export interface TenantRecord {
  id: string;
  name: string;
  namespace: string;
  createdAt: Date;
  /** Its overrides of the configured limits, where read (with an API key). */
  limits?: LimitOverrides;
  /** When it was disabled (DELETE /v1/tenants/:name): its keys are refused. */
  disabledAt?: Date | null;
}

export interface TenantRepository {
  /** TenantExistsError when the name or namespace is taken. */
  create(tenant: { name: string; namespace: string }): Promise<TenantRecord>;
  /** The tenant of this name, created with this namespace when there is none (the platform tenant at boot). */
  ensure(tenant: { name: string; namespace: string }): Promise<TenantRecord>;
  byName(name: string): Promise<TenantRecord | undefined>;
  byNamespace(namespace: string): Promise<TenantRecord | undefined>;
  list(): Promise<TenantRecord[]>;
  /**
   * Marks the tenant disabled at `at` (a disabled one keeps its first time) and revokes every key
   * of it not revoked yet, in one transaction; undefined for an unknown name.
   */
  disable(name: string, at: Date): Promise<TenantRecord | undefined>;
  /** Sets the given overrides (null: back to the default; absent: unchanged); undefined for an unknown name. */
  setLimits(name: string, limits: Partial<LimitOverrides>): Promise<TenantRecord | undefined>;
}

/** An API key as stored: never the key itself, only its hash and its first characters. */
export interface KeyRecord {
  id: string;
  tenant: TenantRecord;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyRepository {
  /** The key with this SHA-256, with its tenant; one unique-index read, on every request (ADR 0007). */
  findByHash(hash: string): Promise<KeyRecord | undefined>;
  create(key: { tenantId: string; name: string; prefix: string; hash: string; scopes: Scope[]; expiresAt?: Date }): Promise<KeyRecord>;
  /** Inserts the key unless its hash is stored already; undoes a revoke of it (the bootstrap key, set again). */
  ensure(key: { tenantId: string; name: string; prefix: string; hash: string; scopes: Scope[] }): Promise<void>;
  /** Newest first; every tenant's when `tenantId` is undefined. */
  list(tenantId?: string): Promise<KeyRecord[]>;
  /** Revokes key `id` (of `tenantId` when given); the key, or undefined when there is none. */
  revoke(id: string, tenantId: string | undefined, at: Date): Promise<KeyRecord | undefined>;
  /**
   * Revokes active key `id` (of `tenantId` when given) at `at` and stores `next` with its tenant,
   * name, scopes and expiry, in one transaction: the new key, or undefined when `id` is not an
   * active key (unknown, another tenant's, or revoked already: see `get`).
   */
  rotate(id: string, tenantId: string | undefined, next: { prefix: string; hash: string }, at: Date): Promise<KeyRecord | undefined>;
  /** Key `id` (of `tenantId` when given), revoked or not. */
  get(id: string, tenantId: string | undefined): Promise<KeyRecord | undefined>;
  /** Sets last_used_at to `at` unless it was set less than a minute before: one conditional UPDATE. */
  touch(id: string, at: Date): Promise<void>;
}

/** The filenames given to POST /v1/uploads, until a job names the upload. */
export interface UploadFilenameRepository {
  remember(upload: { key: string; namespace: string; filename: string }): Promise<void>;
  /** The name given for upload `key` of `namespace`; undefined when none was. */
  nameOf(namespace: string, key: string): Promise<string | undefined>;
  /** The names given for those of `keys` that have one, by key. */
  namesOf(namespace: string, keys: readonly string[]): Promise<Map<string, string>>;
  /** Forgets names given before `olderThan`; how many. */
  prune(olderThan: Date): Promise<number>;
}

/** What the API last found of the services a new job needs (storage, the queue's Redis). */
export interface DependencyHealth {
  /**
   * Resolves when each of `names` can take work: at once when each was last found available,
   * else after checking again. DependencyUnavailableError naming the first that cannot.
   */
  require(...names: string[]): Promise<void>;
  /** Aborts (with DependencyUnavailableError) when `name` is next found unavailable, at once if it is now. */
  signal(name: string): AbortSignal;
}

/** The WorkerPools of the whole platform, every namespace (GET /v1/pools). */
export interface PoolLister {
  listPools(): Promise<WorkerPool[]>;
}

/** The samples the operator records of each WorkerPool (common/pool-history.ts). */
export interface PoolHistory {
  /** Each pool's samples taken since `since` (ms since the epoch), oldest first; in the order of `pools`. */
  since(pools: readonly { namespace: string; name: string }[], since: number): Promise<PoolSample[][]>;
}
