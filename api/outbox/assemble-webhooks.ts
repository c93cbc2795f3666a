import { ANY_ADDRESS, PUBLIC_ONLY } from "../../common/address-policy.js";
import type { JobProgress } from "../../common/job/progress.js";
import type { Logger } from "../../common/logger.js";
import { PrismaWebhookOutbox } from "../data/webhook-outbox-repository.js";
import { PrismaWebhookSecrets } from "../data/webhook-secret-repository.js";
import type { PrismaClient } from "../data/prisma.js";
import type { ManageWebhooksDeps } from "../domain/manage-webhooks.js";
import { STANDARD_RETRY_DELAYS_MS } from "./retry-schedule.js";
import { SecretBox } from "./secret-box.js";
import { refuseResolvedHost, type WebhookTargetRules } from "./webhook-post.js";
import { WebhookSender } from "./webhook-sender.js";

/** The WEBHOOK_* settings (common/config.ts); every field but secretsKey has the configured default when absent. */
export interface WebhookOptions {
  /** WEBHOOK_SECRETS_KEY; none: webhooks are off (jobs with one are refused, nothing is sent). */
  secretsKey?: string;
  /** WEBHOOK_SENDER: whether this process sends (default true). */
  sender?: boolean;
  timeoutMs?: number;
  excerptBytes?: number;
  pollIntervalMs?: number;
  retryDelaysMs?: readonly number[];
  graceSeconds?: number;
  /** WEBHOOK_HISTORY_DAYS: finished messages older than this are deleted, attempts with them. */
  historyDays?: number;
  addressPolicy?: "public" | "any";
  allowHttp?: boolean;
}

export interface Webhooks {
  outbox: PrismaWebhookOutbox;
  /** None when this process does not send (WEBHOOK_SENDER=false, or webhooks are off). */
  sender?: WebhookSender;
  /** What the HTTP app takes (api/app.ts AppDeps.webhooks). */
  app: Omit<ManageWebhooksDeps, "jobs"> & { refuse?: (url: string) => Promise<string | undefined> };
  /** Writes a worker's progress report as a (coalesced) progress message, for jobs that asked for them. */
  onProgress(progress: JobProgress): void;
}

/** The API's webhook parts: the outbox, the secrets, the sender and the rules both the submit path and the sender apply. */
export function assembleWebhooks(prisma: PrismaClient, databaseUrl: string, opts: WebhookOptions, log: Logger): Webhooks {
  const outbox = new PrismaWebhookOutbox(prisma);
  const secrets = opts.secretsKey ? new PrismaWebhookSecrets(prisma, new SecretBox(opts.secretsKey)) : undefined;
  const rules: WebhookTargetRules = { addresses: opts.addressPolicy === "any" ? ANY_ADDRESS : PUBLIC_ONLY, allowHttp: opts.allowHttp ?? false };
  const sender = secrets && opts.sender !== false
    ? new WebhookSender({
      outbox, secrets, log, databaseUrl, retryDelaysMs: opts.retryDelaysMs ?? STANDARD_RETRY_DELAYS_MS, pollIntervalMs: opts.pollIntervalMs ?? 5000, historyDays: opts.historyDays ?? 30,
      post: { ...rules, timeoutMs: opts.timeoutMs ?? 10_000, excerptBytes: opts.excerptBytes ?? 1024 },
    })
    : undefined;
  return {
    outbox, sender,
    app: {
      outbox, secrets, graceSeconds: opts.graceSeconds ?? 86_400, nudge: () => sender?.nudge(),
      refuse: secrets ? (url) => refuseResolvedHost(url, rules) : undefined,
    },
    onProgress(progress) {
      if (!secrets) return;
      outbox.enqueueProgress(progress, new Date()).then((wrote) => {
        if (wrote) sender?.nudge();
      }, (err: unknown) => log.warn({ err, job: progress.uid }, "Could not write a progress webhook"));
    },
  };
}
