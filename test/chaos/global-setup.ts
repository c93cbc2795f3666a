import type { TestProject } from "vitest/node";
import { provideStack } from "../support/global-setup.js";
import { startStack } from "../../devstack/stack.js";
import { startFaultServer } from "./fault-server.js";

/**
 * The chaos suite's stack: like the normal one, but Postgres and Redis are always its own (never
 * the machine's), so that it may restart them, and Redis keeps an append-only file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await startStack({ s3: true, ownServices: true, log: (m) => console.log(`[chaos] ${m}`) });
  const faults = await startFaultServer({ postgres: stack.postgres.restart, redis: stack.redis.restart, apiserver: stack.restartApiserver, s3: stack.s3 && ((whileDown) => stack.s3!.freeze(whileDown)) }).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  console.log(`[chaos] ready in ${Date.now() - started} ms (kube-apiserver ${stack.apiserverVersion}); logs in ${stack.dir}`);
  provideStack(project, stack);
  project.provide("pixelmillFaults", faults.url);
  return async () => {
    await faults.close();
    await stack.stop();
  };
}
