import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // test/chaos restarts the services under it: its own run, `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["node_modules/**", "dist/**", "hack/controlplane/**", "hack/kwok/**", "hack/s3server/**", "test/chaos/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: the apiserver, etcd and the services need one of them.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      { extends: true, test: { name: "node", include: ["**/*.test.ts"], globalSetup: ["test/support/global-setup.ts"] } },
      // The web console's component tests (jsdom, per file): they need none of the real services.
      { extends: true, plugins: [react()], test: { name: "web", include: ["web/**/*.test.tsx"] } },
    ],
  },
});
