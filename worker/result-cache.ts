import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { canonicalJson } from "../common/canonical-json.js";
import { outputsPrefix } from "../common/job/input-access.js";
import type { QueueJobData, QueueJobResult } from "../common/queue.js";

/** What a hit needs to finish a job from an earlier one's output: where it is, and what it is. */
export interface CachedOutput extends Pick<QueueJobResult, "contentType" | "width" | "height" | "bytes" | "notes"> {
  /** The earlier job's output key in the configured store (under its namespace's outputs). */
  key: string;
}

/** Params and model specs are shallow; a deeper one is not cached rather than hashed without bound. */
const MAX_DEPTH = 16;

/**
 * The result cache (docs/adr/0015-result-cache.md): Redis maps the sha256 of what determines a
 * job's output (its namespace, model name and spec, params, output format and quality, and the
 * input bytes' sha256, none for a text-to-image job) to the output of the last succeeded job with those, for `ttlSeconds`.
 * Entries are hints: the caller checks the object still exists before it uses one.
 */
export class ResultCache {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly ttlSeconds: number) {}

  /** The cache key of a job and its input bytes; undefined when the job cannot be keyed (nested too deep). */
  static keyOf(data: QueueJobData, input: Buffer | undefined): string | undefined {
    // A model that declares a seed param (diffusion) draws one at random when the job names none:
    // such a job's output is not determined by what it asked for, so it is neither served nor kept.
    if (data.params.seed === undefined && data.modelSpec.params?.some((p) => p.name === "seed")) return undefined;
    let canonical: string;
    try {
      canonical = canonicalJson({
        namespace: data.namespace, model: data.model, modelSpec: data.modelSpec, params: data.params, output: data.output,
        input: input === undefined ? null : createHash("sha256").update(input).digest("hex"),
      }, MAX_DEPTH, () => new Error("too deep"));
    } catch {
      return undefined;
    }
    return createHash("sha256").update(canonical).digest("hex");
  }

  /** The entry under `key` when there is one that lies in `namespace`'s outputs (anything else is ignored). */
  async lookup(key: string, namespace: string): Promise<CachedOutput | undefined> {
    const raw = await this.redis.get(this.redisKey(key));
    if (!raw) return undefined;
    const entry = parse(raw);
    return entry?.key.startsWith(outputsPrefix(namespace)) ? entry : undefined;
  }

  async record(key: string, output: CachedOutput): Promise<void> {
    await this.redis.set(this.redisKey(key), JSON.stringify(output), "EX", this.ttlSeconds);
  }

  /** Drops an entry whose object is gone, unless a newer job has replaced it meanwhile. */
  async forget(key: string, stale: CachedOutput): Promise<void> {
    const redisKey = this.redisKey(key);
    const raw = await this.redis.get(redisKey);
    if (raw && parse(raw)?.key === stale.key) await this.redis.del(redisKey);
  }

  private redisKey(key: string): string {
    return `${this.prefix}:result-cache:${key}`;
  }
}

function parse(raw: string): CachedOutput | undefined {
  try {
    const value = JSON.parse(raw) as Partial<CachedOutput>;
    return typeof value.key === "string" && typeof value.contentType === "string" ? (value as CachedOutput) : undefined;
  } catch {
    return undefined;
  }
}
