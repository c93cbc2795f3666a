import type { TestProject } from "vitest/node";
import { startStack, type Stack } from "../../devstack/stack.js";

/** Starts the real parts once per test run; each test file isolates itself by name (env.ts). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await startStack({ s3: true, log: (m) => console.log(`[harness] ${m}`) });
  console.log(`[harness] ready in ${Date.now() - started} ms (kube-apiserver ${stack.apiserverVersion})`);
  provideStack(project, stack);
  return () => stack.stop();
}

/** Hands what the stack started to every test file, as testEnv() (env.ts) reads it. */
export function provideStack(project: TestProject, stack: Stack): void {
  project.provide("pixelmill", {
    kubeconfigPath: stack.kubeconfigPath,
    apiserverVersion: stack.apiserverVersion,
    databaseAdminUrl: stack.postgres.url,
    redisUrl: stack.redis.url,
    s3: { endpoint: stack.s3!.endpoint, region: stack.s3!.region, accessKeyId: stack.s3!.accessKeyId, secretAccessKey: stack.s3!.secretAccessKey, bucket: stack.s3!.bucket },
  });
}
