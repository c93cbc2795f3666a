import { createLogger } from "../../common/logger.js";
import { assembleApi, type Api } from "../../api/assemble.js";
import type { WebhookOptions } from "../../api/outbox/assemble-webhooks.js";
import { eventually, type ApiFixture } from "./api-fixture.js";
import { kubeConfig, testEnv } from "./env.js";

/**
 * Another API replica beside a fixture's: the same database, Redis prefix, store and platform
 * namespace, its own mirror, progress feed and webhook sender (no HTTP server: the fixture's
 * serves). Started and synced.
 */
export async function startReplica(api: ApiFixture, opts: { webhooks?: WebhookOptions } = {}): Promise<Api> {
  const replica = assembleApi({
    kc: kubeConfig(), platformNamespace: api.namespace, databaseUrl: api.databaseUrl, redisUrl: testEnv().redisUrl, queuePrefix: api.prefix,
    store: api.store, log: createLogger({ level: (process.env.LOG_LEVEL as "info" | undefined) ?? "silent" }), publicUrl: api.url,
    maxUploadBytes: 1024 * 1024, outputUrlTtlSeconds: 600, watchTimeoutSeconds: 60, webhooks: opts.webhooks,
  });
  replica.start();
  await eventually(() => replica.mirror.synced, "the replica's mirror to sync");
  return replica;
}
