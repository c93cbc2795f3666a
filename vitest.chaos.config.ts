import { defineConfig } from "vitest/config";

/**
 * `npm run test:chaos`: the fault suite (test/chaos). Its own stack, whose Postgres, Redis and
 * kube-apiserver it restarts, so it never shares one with `npm test`; cases run one at a time.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.chaos.test.ts"],
    globalSetup: ["test/chaos/global-setup.ts"],
    // A case waits out stall detection, backoffs and resyncs; each bounds its own waits.
    testTimeout: 300_000,
    hookTimeout: 180_000,
    pool: "forks",
    fileParallelism: false,
    sequence: { concurrent: false },
    reporters: ["default", "./test/chaos/table-reporter.ts"],
  },
});
