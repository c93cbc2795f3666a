import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { projectRoot } from "../test/harness/binaries.js";
import { startStack } from "../test/harness/stack.js";
import { ensureDatabase } from "../test/harness/postgres.js";
import { migrate } from "../prisma/migrate.js";

/**
 * `npm run dev`: the platform on this machine, on embedded defaults. Starts the local control
 * plane (CRDs installed), Postgres and Redis (found or started), and, with --s3, an S3 server;
 * writes the kubeconfig to .pixelmill/kubeconfig; Ctrl-C stops everything it started.
 */
const withS3 = process.argv.includes("--s3");
const stateDir = join(projectRoot, ".pixelmill");
await mkdir(stateDir, { recursive: true });
const kubeconfigPath = join(stateDir, "kubeconfig");
const stack = await startStack({ kubeconfigPath, s3: withS3, log: (m) => console.log(`[dev] ${m}`) });

const databaseUrl = await ensureDatabase(stack.postgres.url, "pixelmill");
const { applied } = await migrate(databaseUrl, { migrationsDir: join(projectRoot, "prisma/migrations") });
console.log(`[dev] database pixelmill: ${applied.length ? `applied ${applied.join(", ")}` : "migrations up to date"}`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n[dev] ${signal}: stopping`);
  stack.stop().then(() => process.exit(0), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

console.log(`
Pixelmill dev stack is up (kube-apiserver ${stack.apiserverVersion}).

  export KUBECONFIG=${kubeconfigPath}
  kubectl get crds
  kubectl apply -f examples/imagemodel-upscale-x2.yaml -f examples/imagejob-upscale.yaml
  kubectl get imagejobs

  DATABASE_URL=${databaseUrl}
  REDIS_URL=${stack.redis.url}${stack.s3 ? `\n  S3_ENDPOINT=${stack.s3.endpoint} (bucket ${stack.s3.bucket}, key ${stack.s3.accessKeyId}, secret ${stack.s3.secretAccessKey})` : ""}
  STORAGE_URL=${withS3 ? `s3://${stack.s3?.bucket}` : "file:///tmp/pixelmill/storage"}

Ctrl-C stops everything.`);
