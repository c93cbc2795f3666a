import pg from "pg";
import type { Logger } from "../../common/logger.js";
import { counter, histogram, processRegistry, type Registry } from "../../common/metrics.js";
import type { AfterAttempt, ClaimedMessage, WebhookOutbox, WebhookSecrets } from "../domain/webhook-ports.js";
import { nextAttemptAt } from "./retry-schedule.js";
import { signWebhook } from "./webhook-signature.js";
import { postWebhook, type PostOptions, type PostResult } from "./webhook-post.js";

export interface WebhookSenderOptions {
  outbox: WebhookOutbox;
  secrets: WebhookSecrets;
  log: Logger;
  /** The database to LISTEN on for new messages (the jobs trigger NOTIFYs webhook_outbox). */
  databaseUrl: string;
  post: PostOptions;
  /** Delay before each attempt (WEBHOOK_RETRY_DELAYS_MS). */
  retryDelaysMs: readonly number[];
  /** WEBHOOK_POLL_INTERVAL_MS: a look for due messages (retries, and messages whose NOTIFY was missed). */
  pollIntervalMs: number;
  /** Finished messages older than this many days are deleted (with their attempts), hourly. */
  historyDays: number;
  /** Messages claimed at once. */
  batchSize?: number;
  /** Where pixelmill_webhook_attempts_total and pixelmill_webhook_attempt_duration_seconds go; the process's registry by default. */
  metrics?: Registry;
}

/**
 * Sends the outbox's messages. Any number of API replicas run one: each message is claimed by
 * one of them (FOR UPDATE SKIP LOCKED) for a lease longer than an attempt may take, so it is
 * sent once, and a sender that dies mid-attempt leaves it to be claimed again when the lease ends.
 * Woken by NOTIFY (a replica's mirror wrote messages) and by a poll (retries coming due).
 */
export class WebhookSender {
  private readonly log: Logger;
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly attempts;
  private readonly duration;

  constructor(private readonly opts: WebhookSenderOptions) {
    this.log = opts.log.child({ component: "webhooks" });
    const registry = opts.metrics ?? processRegistry();
    this.attempts = counter(registry, "pixelmill_webhook_attempts_total", "Webhook attempts by outcome (delivered, failed, refused, disabled).", ["outcome"]);
    this.duration = histogram(registry, "pixelmill_webhook_attempt_duration_seconds", "Time from resolving a webhook receiver to the end of its answer (or the timeout).", []);
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.nudge(), this.opts.pollIntervalMs);
    this.timer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    void this.prune();
    void this.listen();
    this.nudge();
    this.log.info({ pollIntervalMs: this.opts.pollIntervalMs }, "Webhook sender started");
  }

  /** Looks for due messages now (or right after the look in progress). */
  nudge(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().catch((err: unknown) => this.log.warn({ err }, "Webhook sender could not read the outbox")).finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    await this.listener?.end().catch(() => {});
    this.listener = undefined;
    await this.draining;
  }

  /**
   * Deletes the finished messages past the history window, a bounded batch per statement. Every
   * replica may run it: rows another is deleting are skipped (SKIP LOCKED), and each is gone once.
   */
  async prune(now = new Date()): Promise<number> {
    const before = new Date(now.getTime() - this.opts.historyDays * 86_400_000);
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.opts.outbox.prune(before, PRUNE_BATCH);
        total += deleted;
        if (deleted < PRUNE_BATCH || this.stopped) break;
      }
    } catch (err) {
      this.log.warn({ err }, "Webhook sender could not prune the outbox");
    }
    if (total) this.log.info({ messages: total, before }, "Pruned webhook history");
    return total;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl });
    // Lost: the poll still finds every message; the next start listens again.
    client.on("error", (err) => this.log.warn({ err }, "Webhook sender lost its LISTEN connection"));
    client.on("notification", () => this.nudge());
    try {
      await client.connect();
      await client.query("LISTEN webhook_outbox");
      if (this.stopped) await client.end();
      else this.listener = client;
    } catch (err) {
      this.log.warn({ err }, "Webhook sender could not LISTEN; polling only");
      await client.end().catch(() => {});
    }
  }

  private async drain(): Promise<void> {
    const batch = this.opts.batchSize ?? 16;
    // Longer than an attempt can take: a live sender never loses its claim.
    const leaseMs = this.opts.post.timeoutMs + 30_000;
    while (!this.stopped) {
      const claimed = await this.opts.outbox.claim(batch, leaseMs);
      await Promise.all(claimed.map((m) => this.deliver(m).catch((err: unknown) => this.log.error({ err, delivery: m.id }, "Webhook attempt could not be recorded"))));
      if (claimed.length < batch) return;
    }
  }

  private async deliver(m: ClaimedMessage): Promise<void> {
    const { outbox } = this.opts;
    if (await outbox.isDisabled(m.namespace, m.url)) {
      await outbox.recordAttempt(m.id, blank("disabled", "the endpoint answered 410 Gone earlier and is disabled; re-enable it through the API"), { state: "disabled" });
      this.attempts.inc({ outcome: "disabled" });
      return;
    }
    const secrets = await this.opts.secrets.signingFor(m.namespace);
    if (!secrets) {
      await outbox.recordAttempt(m.id, blank("refused", `no tenant has namespace ${m.namespace}`), { state: "refused" });
      this.attempts.inc({ outcome: "refused" });
      return;
    }
    const headers = signWebhook(secrets, `msg_${m.id}`, new Date(), m.body);
    const result = await postWebhook(m.url, { ...headers }, m.body, this.opts.post);
    const { attempt, after } = this.judge(m, result);
    await outbox.recordAttempt(m.id, attempt, after);
    this.attempts.inc({ outcome: attempt.outcome });
    if (attempt.latencyMs !== null) this.duration.observe(attempt.latencyMs / 1000);
    if (result.kind === "answered" && result.status === 410) await outbox.disableEndpoint(m.namespace, m.url);
    this.log.info({ delivery: m.id, job: m.jobUid, event: m.event, attempt: m.attempts, outcome: attempt.outcome, status: attempt.statusCode, state: after.state }, "Webhook attempted");
  }

  private judge(m: ClaimedMessage, r: PostResult): { attempt: Parameters<WebhookOutbox["recordAttempt"]>[1]; after: AfterAttempt } {
    if (r.kind === "refused") return { attempt: blank("refused", r.reason), after: { state: "refused" } };
    const retry = (): AfterAttempt => {
      const next = nextAttemptAt(m.attempts, this.opts.retryDelaysMs, new Date());
      return next ? { state: "pending", nextAttemptAt: next } : { state: "dead" };
    };
    if (r.kind === "failed") return { attempt: { outcome: "failed", statusCode: null, latencyMs: r.latencyMs, responseExcerpt: null, error: r.error.replaceAll("\u0000", "") }, after: retry() };
    const answered = { statusCode: r.status, latencyMs: r.latencyMs, responseExcerpt: r.excerpt };
    if (r.status >= 200 && r.status < 300) return { attempt: { outcome: "delivered", ...answered, error: null }, after: { state: "delivered" } };
    if (r.status === 410) return { attempt: { outcome: "disabled", ...answered, error: "410 Gone: the endpoint is disabled" }, after: { state: "disabled" } };
    const error = r.status >= 300 && r.status < 400 ? `answered ${r.status}: redirects are not followed` : `answered ${r.status}`;
    return { attempt: { outcome: "failed", ...answered, error }, after: retry() };
  }
}

const PRUNE_INTERVAL_MS = 3_600_000;
const PRUNE_BATCH = 1000;

function blank(outcome: string, error: string) {
  return { outcome, statusCode: null, latencyMs: null, responseExcerpt: null, error };
}
