import { inject } from "vitest";
import { randomBytes } from "node:crypto";
import { shareConnections } from "../../common/kube/kube-connections.js";
import { KubeConfig } from "@kubernetes/client-node";

/** What the global setup (test/support/global-setup.ts) started, handed to every test file. */
export interface TestEnv {
  /** kubeconfig of the real kube-apiserver (or of PIXELMILL_USE_EXISTING_CLUSTER's cluster). */
  kubeconfigPath: string;
  /** gitVersion reported by the apiserver's /version. */
  apiserverVersion: string;
  /** A Postgres URL with rights to create databases; tests make their own with createTestDatabase. */
  databaseAdminUrl: string;
  redisUrl: string;
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    pixelmill: TestEnv;
  }
}

export function testEnv(): TestEnv {
  return inject("pixelmill");
}

/** A short name unique to this call, safe as a namespace, database name, queue or key prefix. */
export function uniqueName(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
  return `${clean}-${randomBytes(4).toString("hex")}`;
}

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnv().kubeconfigPath);
  return shareConnections(kc); // as the API's and the operator's mains do
}

/** The settings that point a process's store at the test S3 server, under `path` of its bucket. */
export function s3StorageEnv(s3: TestEnv["s3"], path: string): Record<string, string> {
  return {
    STORAGE_URL: `s3://${s3.bucket}/${path}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: "true",
  };
}
