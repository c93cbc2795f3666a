import type { Readable } from "node:stream";
import { batchManifestKey, parseBatchItemResult, type BatchItemResult } from "../../common/batch.js";
import { DependencyUnavailableError, ObjectNotFoundError } from "../../common/errors.js";
import { isFinished } from "../../common/job/phases.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { readAll } from "../../common/storage/index.js";
import { BatchExpiredError, BatchNotFinishedError, InvalidRequestError, NotABatchError } from "./errors.js";
import type { JobQueries } from "./job-queries.js";
import type { JobRecord } from "./job-record.js";
import type { Principal } from "./principal.js";
import type { UploadFilenameRepository } from "./ports.js";

/** A running batch's items in Redis (common/batch.ts keys), as the operator and workers write them. */
export interface BatchItemSource {
  /** Items the operator listed (its inputs hash); 0 before it has, or after the keys expired. */
  total(uid: string): Promise<number>;
  /** Input and result (if finished) of items from..from+count-1, in index order. */
  range(uid: string, from: number, count: number): Promise<Array<{ input?: string; result?: BatchItemResult }>>;
}

/** One item as listed: its result once it finished for good, else Pending. */
export interface BatchItemEntry {
  index: number;
  input: string;
  /** The file's name, for an `upload:` input sent with one (a multipart batch, or POST /v1/uploads with a filename). */
  filename?: string;
  result?: BatchItemResult;
}

export interface BatchItemPage {
  record: JobRecord;
  total: number | null;
  items: BatchItemEntry[];
  nextCursor: string | null;
}

export interface BatchItemsDeps {
  queries: JobQueries;
  store: Pick<ObjectStore, "get" | "keyOf">;
  /** None: a running batch's items cannot be listed (DependencyUnavailableError). */
  source?: BatchItemSource;
  /** The names uploads were sent with; none: items have no filename. */
  filenames?: Pick<UploadFilenameRepository, "namesOf">;
  /** How long a parsed manifest is kept for the next page; 30 s. */
  cacheMs?: number;
  now?: () => number;
}

/** Manifests kept parsed at once: each is at most 10,000 lines. */
const CACHED_MANIFESTS = 8;

/**
 * A batch job's items: while it runs, from Redis (a range of the results hash, items not finished
 * listed as pending); once it has finished, from its manifest in storage (the Redis keys expire).
 * Pages go by index, so a client reads every item once whether the batch is running or not.
 */
export class BatchItems {
  private readonly manifests = new Map<string, { items: Promise<BatchItemResult[]>; until: number }>();

  constructor(private readonly deps: BatchItemsDeps) {}

  /** JobNotFoundError for another tenant's job, NotABatchError for a single job. */
  async page(principal: Principal, id: string, q: { limit: number; cursor?: string }): Promise<BatchItemPage> {
    const record = await this.batchRecord(principal, id);
    const from = q.cursor === undefined ? 0 : decodeItemCursor(q.cursor);
    const manifestKey = this.manifestKey(record);
    // A batch canceled by deleting its ImageJob has a manifest but no status naming it; one that failed before expanding has none.
    const fromManifest = manifestKey === undefined ? undefined : await this.fromManifest(record.uid, manifestKey, from, q.limit).catch((err: unknown) => {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    });
    const { total, items } = fromManifest ?? await this.fromRedis(record, from, q.limit);
    const next = from + items.length;
    return { record, total, items: await this.named(record.namespace, items), nextCursor: total !== null && items.length > 0 && next < total ? encodeItemCursor(next) : null };
  }

  /** The items with the names their uploads were sent with; a failed read only leaves the names out. */
  private async named(namespace: string, items: BatchItemEntry[]): Promise<BatchItemEntry[]> {
    const keys = items.flatMap((i) => (i.input.startsWith("upload:") ? [i.input.slice("upload:".length)] : []));
    if (!this.deps.filenames || keys.length === 0) return items;
    const names = await this.deps.filenames.namesOf(namespace, keys).catch(() => new Map<string, string>());
    return items.map((i) => {
      const filename = i.input.startsWith("upload:") ? names.get(i.input.slice("upload:".length)) : undefined;
      return filename === undefined ? i : { ...i, filename };
    });
  }

  /** The finished batch's manifest; BatchNotFinishedError before, BatchExpiredError once retention deleted it, ObjectNotFoundError when it ended without one. */
  async manifest(principal: Principal, id: string): Promise<{ body: Readable; bytes: number; contentType?: string }> {
    const record = await this.batchRecord(principal, id);
    const key = this.manifestKey(record);
    if (key === undefined) throw new BatchNotFinishedError(record.uid, record.phase);
    return this.deps.store.get(key);
  }

  private async batchRecord(principal: Principal, id: string): Promise<JobRecord> {
    const record = await this.deps.queries.record(principal, id);
    if (!record.batch) throw new NotABatchError(record.uid);
    if (record.outputExpiredAt) throw new BatchExpiredError(record.uid, record.outputExpiredAt);
    return record;
  }

  /** The manifest's key once the batch has finished (status.output, else where the operator writes it); undefined while it runs. */
  private manifestKey(record: JobRecord): string | undefined {
    if (!isFinished(record.phase)) return undefined;
    return record.output?.uri ? this.deps.store.keyOf(record.output.uri) : batchManifestKey(record.namespace, record.name, record.uid);
  }

  private async fromRedis(record: JobRecord, from: number, limit: number): Promise<{ total: number | null; items: BatchItemEntry[] }> {
    const { source } = this.deps;
    if (!source) throw new DependencyUnavailableError("redis");
    const listed = await source.total(record.uid);
    // Not listed yet (a prefix), or a batch that ended without a manifest after its keys expired.
    if (listed === 0) return { total: record.batch?.total ?? null, items: [] };
    const rows = await source.range(record.uid, from, Math.max(0, Math.min(limit, listed - from)));
    const items = rows.map((row, i) => ({ index: from + i, input: row.result?.input ?? row.input ?? "", ...(row.result ? { result: row.result } : {}) }));
    return { total: listed, items };
  }

  private async fromManifest(uid: string, key: string, from: number, limit: number): Promise<{ total: number; items: BatchItemEntry[] }> {
    const results = await this.parsedManifest(uid, key);
    const items = results.slice(from, from + limit).map((result) => ({ index: result.index, input: result.input, result }));
    return { total: results.length, items };
  }

  private parsedManifest(uid: string, key: string): Promise<BatchItemResult[]> {
    const now = (this.deps.now ?? Date.now)();
    const hit = this.manifests.get(uid);
    if (hit && hit.until > now) return hit.items;
    for (const [cached, entry] of this.manifests) if (entry.until <= now || this.manifests.size >= CACHED_MANIFESTS) this.manifests.delete(cached);
    const items = this.deps.store.get(key).then(async (object) => parseManifest((await readAll(object.body)).toString("utf8")));
    // A failed read is not kept: the next request tries again.
    items.catch(() => this.manifests.delete(uid));
    this.manifests.set(uid, { items, until: now + (this.deps.cacheMs ?? 30_000) });
    return items;
  }
}

/** The manifest's results in index order (it is written so; sorted anyway, lines that do not parse left out). */
export function parseManifest(text: string): BatchItemResult[] {
  const results = text.split("\n").filter((line) => line.trim() !== "").map(parseBatchItemResult)
    .filter((r): r is BatchItemResult => r !== undefined);
  return results.sort((a, b) => a.index - b.index);
}

/** Opaque to clients: base64url of the next item's index. */
export function encodeItemCursor(index: number): string {
  return Buffer.from(`item:${index}`).toString("base64url");
}

export function decodeItemCursor(cursor: string): number {
  const match = /^item:(\d{1,9})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw new InvalidRequestError("cursor is not one this API handed out");
  return Number(match[1]);
}
