import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { API_VERSION, GROUP, IMAGEJOB_PLURAL, VERSION, type ImageJob } from "../../common/crd-types.js";
import { createLogger } from "../../common/logger.js";
import { FileObjectStore } from "../../common/storage/index.js";
import { assembleApi, type Api } from "../../api/assemble.js";
import { PrismaWebhookSecrets } from "../../api/data/webhook-secret-repository.js";
import { SecretBox } from "../../api/outbox/secret-box.js";
import { startComponent } from "../../devstack/components.js";
import { freePort, signalGroup, waitUntil, type Managed } from "../../devstack/processes.js";
import { migrate } from "../../prisma/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";
import { eventually } from "../support/api-fixture.js";
import { now } from "../support/job-status.js";
import { startWebhookReceiver, verifyStandardWebhook, type WebhookReceiver } from "../support/webhook-receiver.js";

// The outbox outlives its API: an API process (api/main.ts) commits a job's completed event and is
// SIGKILLed before sending it (WEBHOOK_SENDER=false keeps it from sending); another API then sends it, once.
const namespace = uniqueName("webhook-kill");
const prefix = uniqueName("webhook-kill");
const secretsKey = randomBytes(32).toString("base64");
const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
let db: TestDatabase;
let receiver: WebhookReceiver;
let logDir: string;
let child: Managed | undefined;
let second: Api | undefined;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  logDir = await mkdtemp(join(tmpdir(), "pixelmill-webhook-kill-"));
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  db = await createTestDatabase("webhook-kill");
  await migrate(db.url, { migrationsDir: fileURLToPath(new URL("../../prisma/migrations", import.meta.url)) });
});
afterAll(async () => {
  await child?.stop();
  await second?.stop();
  await db?.drop();
  await receiver?.close();
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }).catch(() => {});
  await rm(logDir, { recursive: true, force: true });
});

/** The outbox rows of this test's namespace. */
async function outboxRows(): Promise<{ event: string; state: string; attempts: number }[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    // This namespace's only: the mirrors record every namespace's jobs, other tests' webhooks too.
    return (await client.query<{ event: string; state: string; attempts: number }>("SELECT event, state, attempts FROM webhook_outbox WHERE namespace = $1", [namespace])).rows;
  } finally {
    await client.end();
  }
}

describe("the webhook outbox", () => {
  it("keeps an event committed by an API killed before sending it, and another API sends it once", async () => {
    const env = testEnv();
    const port = await freePort();
    child = startComponent("api", {
      ...process.env, DATABASE_URL: db.url, KUBECONFIG: env.kubeconfigPath, REDIS_URL: env.redisUrl, QUEUE_PREFIX: prefix, PORT: String(port),
      STORAGE_URL: `file://${logDir}/storage`, PIXELMILL_NAMESPACE: namespace, LOG_LEVEL: "info",
      WEBHOOK_SECRETS_KEY: secretsKey, WEBHOOK_SENDER: "false", WEBHOOK_ADDRESS_POLICY: "any", WEBHOOK_ALLOW_HTTP: "true",
    }, logDir);
    await waitUntil("the API to be ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 60_000, process: child });

    const body: ImageJob = {
      apiVersion: API_VERSION, kind: "ImageJob", metadata: { name: "outlived" },
      spec: { model: "resize-x2", input: { uri: "s3://pixelmill/inputs/cat.png" }, webhook: { url: receiver.url("/kill"), events: ["completed"] } },
    };
    const job = (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, body })) as ImageJob;
    await custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural: IMAGEJOB_PLURAL, name: "outlived", body: { status: { phase: "Succeeded", finishedAt: now(), output: {} } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await waitUntil("the API to commit the event", async () => (await outboxRows()).length === 1, { timeoutMs: 30_000, process: child });
    signalGroup(child.pid, "SIGKILL");
    expect((await child.exitStatus).signal).toBe("SIGKILL");
    child = undefined;
    expect(await outboxRows()).toEqual([{ event: "completed", state: "pending", attempts: 0 }]);
    expect(receiver.received).toEqual([]);

    second = assembleApi({
      kc: kubeConfig(), platformNamespace: namespace, databaseUrl: db.url, redisUrl: env.redisUrl, queuePrefix: prefix,
      store: new FileObjectStore(join(logDir, "storage")), log: createLogger({ level: "silent" }), publicUrl: "http://127.0.0.1",
      maxUploadBytes: 1024, outputUrlTtlSeconds: 600, webhooks: { secretsKey, addressPolicy: "any", allowHttp: true, pollIntervalMs: 200 },
    });
    second.start();
    await eventually(async () => (await outboxRows())[0]?.state === "delivered", "the other API to deliver the event", 30_000);
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    expect(got!.payload).toMatchObject({ type: "job.completed", data: { id: job.metadata.uid, status: "succeeded" } });
    const tenant = (await second.tenants.byName("platform"))!;
    const secrets = await new PrismaWebhookSecrets(second.prisma, new SecretBox(secretsKey)).list(tenant.id);
    expect(verifyStandardWebhook(secrets[0]!.secret, got!.headers, got!.body)).toBe(true);
  });
});
