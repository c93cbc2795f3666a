import { addAbortSignal } from "node:stream";
import type { Agent } from "node:https";
import { InvalidObjectKeyError, JobFailure, ObjectNotFoundError } from "../../common/errors.js";
import type { ObjectStore } from "../../common/storage/index.js";
import { PUBLIC_ONLY, type AddressPolicy } from "../../common/address-policy.js";
import { refuseInput, storeRoot } from "../../common/job/input-access.js";
import { refuseBucket } from "../../common/job/input-grants.js";
import { allowedInputBuckets, parseInputUri } from "../../common/job/input-uri.js";
import { forbiddenUrlText, httpsGet, type Resolve } from "./https-get.js";
import { readLimited, tooLarge } from "./limits.js";
import { raceAbort } from "../../common/race-abort.js";

export interface InputFetcherOptions {
  /** The configured store: `upload:<key>` names a key in it. */
  store: ObjectStore;
  /** The store of an `s3://bucket/key` input's bucket (BucketStores.for). */
  bucketStore: (bucket: string) => ObjectStore;
  /** FETCH_MAX_BYTES */
  maxBytes: number;
  /** FETCH_TIMEOUT_MS, for the whole fetch including redirects. */
  timeoutMs: number;
  /** Trust for https:// inputs; Node's global agent when absent. Tests pass one with their own CA. */
  httpsAgent?: Agent;
  /**
   * Addresses https:// inputs may come from; public ones only when absent. Tests that serve
   * inputs from 127.0.0.1 pass ANY_ADDRESS.
   */
  addressPolicy?: AddressPolicy;
  /** DNS for https:// hosts (tests); node:dns lookup when absent. */
  resolve?: Resolve;
  /** INPUT_BUCKETS: buckets `s3://` inputs may name; when absent, only the configured store's bucket. */
  inputBuckets?: readonly string[];
}

const MAX_REDIRECTS = 5;

/** Fetches a job's input bytes by URI: `upload:<key>`, `s3://bucket/key` or `https://...`. */
export class InputFetcher {
  private readonly inputBuckets: ReadonlySet<string>;
  private readonly storeRoot: string | undefined;

  constructor(private readonly opts: InputFetcherOptions) {
    this.inputBuckets = allowedInputBuckets(opts.inputBuckets, opts.store);
    this.storeRoot = storeRoot(opts.store);
  }

  /**
   * The input's bytes, or a JobFailure naming why not. When `signal` (the job's own limit)
   * fires first, its reason is thrown, so the caller can tell its timeout from the fetch's.
   * `namespace`: the job's; of the platform's own store it may read only that namespace's
   * uploads and outputs (common/job/input-access.ts). `inputBuckets`: the buckets granted to the
   * namespace (QueueJobData.inputBuckets); when absent, INPUT_BUCKETS alone decides.
   */
  async fetch(input: { uri: string; namespace: string; inputBuckets?: readonly string[] }, signal?: AbortSignal): Promise<Buffer> {
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    const both = signal ? AbortSignal.any([signal, deadline]) : deadline;
    try {
      return await this.fetchFrom(input.uri, input.namespace, input.inputBuckets, both);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof JobFailure) throw err;
      if (deadline.aborted) throw new JobFailure("StorageError", `fetching the input took longer than ${this.opts.timeoutMs} ms (FETCH_TIMEOUT_MS)`);
      throw new JobFailure("StorageError", `fetching the input failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private fetchFrom(uri: string, namespace: string, granted: readonly string[] | undefined, signal: AbortSignal): Promise<Buffer> {
    const input = parseInputUri(uri);
    if ("problem" in input) throw forbiddenUrlText(uri, this.opts.addressPolicy ?? PUBLIC_ONLY) ?? new JobFailure("InputNotFound", input.problem);
    const refused = refuseInput(input, namespace, this.storeRoot);
    if (refused) throw new JobFailure("InputForbidden", refused);
    const ungranted = refuseBucket(input, namespace, { allowed: this.inputBuckets, granted, root: this.storeRoot });
    if (ungranted) throw new JobFailure("InputForbidden", ungranted);
    switch (input.scheme) {
      case "upload":
        return this.fromStore(this.opts.store, input.key, uri, signal);
      case "s3":
        return this.fromStore(this.opts.bucketStore(input.bucket), input.key, uri, signal);
      case "https":
        return httpsGet(input.url, {
          maxBytes: this.opts.maxBytes, maxRedirects: MAX_REDIRECTS, signal, agent: this.opts.httpsAgent,
          policy: this.opts.addressPolicy ?? PUBLIC_ONLY, resolve: this.opts.resolve,
        });
    }
  }

  private async fromStore(store: ObjectStore, key: string, uri: string, signal: AbortSignal): Promise<Buffer> {
    let found: Awaited<ReturnType<ObjectStore["get"]>>;
    try {
      found = await raceAbort(store.get(key), signal, (late) => late.body.destroy());
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new JobFailure("InputNotFound", `no input object at ${uri}`);
      if (err instanceof InvalidObjectKeyError) throw new JobFailure("InputNotFound", `${uri}: ${err.message}`);
      throw err;
    }
    if (found.bytes > this.opts.maxBytes) {
      found.body.destroy();
      throw tooLarge(this.opts.maxBytes);
    }
    return readLimited(addAbortSignal(signal, found.body), this.opts.maxBytes);
  }
}

