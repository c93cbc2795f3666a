import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    // test/chaos restarts the services under it: its own run, `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["node_modules/**", "dist/**", "hack/controlplane/**", "hack/kwok/**", "hack/s3server/**", "test/chaos/**"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: the apiserver, etcd and the services need one of them.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
