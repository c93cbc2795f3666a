import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort, startProcess, waitUntil } from "./processes.js";

export interface S3Service {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /**
   * Freezes the server (SIGSTOP: connections are accepted by the kernel and never answered, as
   * with a hung S3), runs `whileFrozen`, then thaws it (SIGCONT). The chaos suite's S3 outage.
   */
  freeze(whileFrozen?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * versitygw (a real S3 gateway, built from Go modules) over a posix directory in `dir`, with
 * metadata in a sidecar folder so no extended-attribute support is needed, and `bucket` created.
 */
export async function startS3(binDir: string, dir: string, bucket: string): Promise<S3Service> {
  const root = join(dir, "s3-data");
  const sidecar = join(dir, "s3-sidecar"); // must not lie inside the root
  await Promise.all([mkdir(root, { recursive: true }), mkdir(sidecar, { recursive: true })]);
  const port = await freePort();
  const accessKeyId = "pixelmill";
  const secretAccessKey = randomBytes(16).toString("hex");
  const region = "us-east-1";
  const proc = startProcess({
    name: "versitygw",
    command: join(binDir, "versitygw"),
    logPath: join(dir, "versitygw.log"),
    // --keep-alive: versitygw answers `Connection: close` without it, so every S3 call would open a
    // new connection, which AWS S3 and its kin never make clients do (a cost benches would count).
    args: ["--port", `127.0.0.1:${port}`, "--region", region, "--quiet", "--keep-alive", "posix", "--sidecar", sidecar, root],
    env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    await waitUntil("versitygw to answer ListBuckets", async () => (await client.send(new ListBucketsCommand({})), true), { timeoutMs: 15_000, process: proc });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    client.destroy();
  }
  const freeze = async (whileFrozen?: () => Promise<void>) => {
    process.kill(-proc.pid, "SIGSTOP");
    try {
      await whileFrozen?.();
    } finally {
      process.kill(-proc.pid, "SIGCONT");
    }
  };
  return { endpoint, region, accessKeyId, secretAccessKey, bucket, freeze, stop: () => proc.stop() };
}
