import { expect, it } from "vitest";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { EnvSourceMissing, resolveContainerEnv, type EnvSources } from "./pod-env.js";

// Pure logic: the ConfigMaps and Secrets are plain maps here; pod-runner.test.ts reads real ones.
const configMaps: Record<string, Record<string, string>> = { tuning: { WORKER_CONCURRENCY: "4", LOG_LEVEL: "debug" } };
const secrets: Record<string, Record<string, string>> = { s3: { key: "AKIA", secret: "s3cr3t" } };
const sources: EnvSources = {
  configMap: (name) => Promise.resolve(configMaps[name]),
  secret: (name) => Promise.resolve(secrets[name]),
};
const pod: V1Pod = { metadata: { name: "workers-abc", namespace: "team-a", uid: "u-1", labels: { pool: "h100" } }, spec: { nodeName: "kwok-h100-0", containers: [] } };

it("layers envFrom, then env (which wins), resolving fieldRefs, ConfigMap and Secret keys", async () => {
  const container: V1Container = {
    name: "worker",
    envFrom: [{ configMapRef: { name: "tuning" } }, { secretRef: { name: "s3" }, prefix: "S3_" }],
    env: [
      { name: "LOG_LEVEL", value: "warn" },
      { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      { name: "POOL", valueFrom: { fieldRef: { fieldPath: "metadata.labels['pool']" } } },
      { name: "S3_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "s3", key: "secret" } } },
      { name: "CONCURRENCY", valueFrom: { configMapKeyRef: { name: "tuning", key: "WORKER_CONCURRENCY" } } },
      { name: "MAYBE", valueFrom: { configMapKeyRef: { name: "absent", key: "x", optional: true } } },
    ],
  };
  expect(await resolveContainerEnv(pod, container, sources, "10.244.0.9")).toEqual({
    WORKER_CONCURRENCY: "4", LOG_LEVEL: "warn", S3_key: "AKIA", S3_secret: "s3cr3t",
    POD: "workers-abc", NS: "team-a", NODE: "kwok-h100-0", POOL: "h100", S3_SECRET_ACCESS_KEY: "s3cr3t", CONCURRENCY: "4",
  });
});

it("refuses a missing ConfigMap or key unless it is optional", async () => {
  await expect(resolveContainerEnv(pod, { name: "w", envFrom: [{ configMapRef: { name: "absent" } }] }, sources, "")).rejects.toThrow(EnvSourceMissing);
  await expect(resolveContainerEnv(pod, { name: "w", env: [{ name: "X", valueFrom: { secretKeyRef: { name: "s3", key: "nope" } } }] }, sources, ""))
    .rejects.toThrow(/Secret s3 key nope/);
  expect(await resolveContainerEnv(pod, { name: "w", envFrom: [{ configMapRef: { name: "absent", optional: true } }] }, sources, "")).toEqual({});
});
