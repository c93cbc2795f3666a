import type { Config } from "../config.js";
import { isBucketName } from "../job/input-uri.js";
import type { ObjectStore } from "./object-store.js";
import { S3ObjectStore } from "./s3-object-store.js";

type S3Settings = Pick<Config, "S3_ENDPOINT" | "S3_REGION" | "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY" | "S3_FORCE_PATH_STYLE">;


/**
 * One S3 store per bucket named by `s3://bucket/key` inputs and model sources, on the endpoint
 * and credentials of the configured storage, with no key prefix: such URIs name whole keys.
 * Stores are kept for the life of the process, since a worker reads from few buckets.
 */
export class BucketStores {
  private readonly stores = new Map<string, ObjectStore>();

  constructor(private readonly s3: S3Settings) {}

  /** The store of `bucket`; throws on a name S3 would refuse. */
  readonly for = (bucket: string): ObjectStore => {
    if (!isBucketName(bucket)) throw new Error(`invalid S3 bucket name ${JSON.stringify(bucket)}`);
    let store = this.stores.get(bucket);
    if (!store) {
      store = new S3ObjectStore({
        bucket,
        endpoint: this.s3.S3_ENDPOINT,
        region: this.s3.S3_REGION,
        forcePathStyle: this.s3.S3_FORCE_PATH_STYLE,
        credentials: this.s3.S3_ACCESS_KEY_ID && this.s3.S3_SECRET_ACCESS_KEY
          ? { accessKeyId: this.s3.S3_ACCESS_KEY_ID, secretAccessKey: this.s3.S3_SECRET_ACCESS_KEY }
          : undefined,
      });
      this.stores.set(bucket, store);
    }
    return store;
  };

  close(): void {
    for (const store of this.stores.values()) store.close();
    this.stores.clear();
  }
}
