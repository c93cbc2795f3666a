import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    // test/chaos restarts the services under it: its own run, `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["node_modules/**", "dist/**", "hack/controlplane/**", "hack/kwok/**", "hack/s3server/**", "test/chaos/**"],
    globalSetup: ["test/harness/global-setup.ts"],
    // Node 20 is supported by the pinned SDK; its notice about future releases is noise in test logs.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: the apiserver, etcd and the services need one of them.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default", "./test/harness/summary-reporter.ts"],
  },
});
