import { JOB_STAGES, type JobProgress } from "../../common/job/progress.js";
import { FINISHED_PHASES } from "../../common/job/phases.js";
import type { AfterAttempt, ClaimedMessage, WebhookAttemptRecord, WebhookDelivery, WebhookOutbox } from "../domain/webhook-ports.js";
import type { PrismaClient } from "./prisma.js";
import type { WebhookAttempt, WebhookOutbox as OutboxRow } from "./generated/prisma/client.js";

/**
 * Orders a job's progress reports: a later attempt, a later stage, more steps done. Every API
 * replica hears each report; the rank lets the first write it and the others find it written.
 */
export function progressRank(p: Pick<JobProgress, "attempt" | "stage" | "step">): bigint {
  const stage = BigInt(Math.max(0, JOB_STAGES.indexOf(p.stage)));
  const done = BigInt(Math.min(Math.max(p.step?.done ?? 0, 0), 0xfffff));
  return (BigInt(p.attempt) << 28n) | (stage << 20n) | done;
}

/** webhook_outbox and its companions through Prisma; messages are written by the jobs trigger (the migration). */
export class PrismaWebhookOutbox implements WebhookOutbox {
  constructor(private readonly prisma: PrismaClient) {}

  async claim(limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
    // A message left `sending` by a sender that died is due again once its lease ran out.
    const rows = await this.prisma.$queryRaw<{ id: string; namespace: string; job_uid: string; event: string; url: string; body: string; attempts: number }[]>`
      UPDATE webhook_outbox SET state = 'sending', attempts = attempts + 1, locked_until = now() + ${leaseMs} * interval '1 millisecond'
      WHERE id IN (
        SELECT id FROM webhook_outbox
        WHERE (state = 'pending' AND next_attempt_at <= now()) OR (state = 'sending' AND locked_until < now())
        ORDER BY next_attempt_at, seq LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id, namespace, job_uid, event, url, payload::text AS body, attempts`;
    return rows.map((r) => ({ id: r.id, namespace: r.namespace, jobUid: r.job_uid, event: r.event, url: r.url, body: r.body, attempts: r.attempts }));
  }

  async recordAttempt(id: string, attempt: Omit<WebhookAttemptRecord, "at">, after: AfterAttempt): Promise<void> {
    const next = after.state === "pending" ? after.nextAttemptAt : null;
    await this.prisma.$transaction([
      this.prisma.webhookAttempt.create({ data: { outboxId: id, ...attempt } }),
      // Only a message still `sending`. A progress report to retry while a newer one waits is
      // superseded by it: one pending progress message per job.
      this.prisma.$executeRaw`
        WITH target AS (
          SELECT o.id, CASE WHEN ${after.state} = 'pending' AND o.event = 'progress' AND EXISTS (
              SELECT 1 FROM webhook_outbox p WHERE p.job_uid = o.job_uid AND p.event = 'progress' AND p.state = 'pending')
            THEN 'superseded' ELSE ${after.state} END AS state
          FROM webhook_outbox o WHERE o.id = ${id}::uuid AND o.state = 'sending')
        UPDATE webhook_outbox w SET state = target.state, locked_until = NULL,
          next_attempt_at = COALESCE(${next}::timestamptz, w.next_attempt_at),
          finished_at = CASE WHEN target.state = 'pending' THEN NULL ELSE now() END
        FROM target WHERE w.id = target.id`,
    ]);
  }

  prune(before: Date, limit: number): Promise<number> {
    // Attempts go with their message (ON DELETE CASCADE); webhook_outbox_finished_idx finds them.
    return this.prisma.$executeRaw`
      DELETE FROM webhook_outbox WHERE id IN (
        SELECT id FROM webhook_outbox
        WHERE state NOT IN ('pending', 'sending') AND finished_at < ${before}::timestamptz
        ORDER BY finished_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)`;
  }

  async disableEndpoint(namespace: string, url: string): Promise<void> {
    await this.prisma.$executeRaw`INSERT INTO webhook_disabled_endpoints (namespace, url) VALUES (${namespace}, ${url}) ON CONFLICT DO NOTHING`;
  }

  async isDisabled(namespace: string, url: string): Promise<boolean> {
    return (await this.prisma.webhookDisabledEndpoint.count({ where: { namespace, url } })) > 0;
  }

  async enableEndpoint(namespace: string, url: string): Promise<boolean> {
    return (await this.prisma.webhookDisabledEndpoint.deleteMany({ where: { namespace, url } })).count > 0;
  }

  async enqueueProgress(p: JobProgress, at: Date): Promise<boolean> {
    const rank = progressRank(p);
    const step = p.step ? JSON.stringify(p.step) : null;
    // Coalesced: one pending progress message per job, whose payload the newer report replaces;
    // a report no newer than one already written (by another replica, or sent) writes nothing.
    const wrote = await this.prisma.$executeRaw`
      INSERT INTO webhook_outbox (namespace, job_uid, event, url, payload, progress)
      SELECT j.namespace, j.uid, 'progress', j.webhook_url, jsonb_build_object('type', 'job.progress', 'timestamp', ${at.toISOString()}::text,
          'data', jsonb_build_object('id', j.uid, 'name', j.name, 'status', 'running', 'model', j.model, 'attempt', ${p.attempt}::int,
            'stage', ${p.stage}::text, 'step', ${step}::jsonb, 'elapsed_ms', ${p.elapsedMs}::int)), ${rank}::bigint
      FROM jobs j
      WHERE j.uid = ${p.uid}::uuid AND j.namespace = ${p.namespace} AND j.webhook_url IS NOT NULL AND 'progress' = ANY(j.webhook_events)
        AND j.phase <> ALL(${[...FINISHED_PHASES]}::text[])
        AND NOT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.job_uid = j.uid AND o.event = 'progress' AND o.progress >= ${rank}::bigint)
      ON CONFLICT (job_uid) WHERE event = 'progress' AND state = 'pending'
      DO UPDATE SET payload = EXCLUDED.payload, progress = EXCLUDED.progress WHERE webhook_outbox.progress < EXCLUDED.progress`;
    return wrote > 0;
  }

  async listForJob(namespace: string, jobUid: string): Promise<WebhookDelivery[]> {
    const rows = await this.prisma.webhookOutbox.findMany({ where: { namespace, jobUid }, orderBy: { seq: "asc" }, include: { tries: { orderBy: { at: "asc" } } } });
    return rows.map(toDelivery);
  }

  async listForTenant(namespace: string, limit: number, beforeSeq?: bigint): Promise<WebhookDelivery[]> {
    const rows = await this.prisma.webhookOutbox.findMany({
      where: { namespace, ...(beforeSeq === undefined ? {} : { seq: { lt: beforeSeq } }) },
      orderBy: { seq: "desc" }, take: limit, include: { tries: { orderBy: { at: "asc" } } },
    });
    return rows.map(toDelivery);
  }

  async redeliver(namespace: string, id: string): Promise<boolean> {
    const updated = await this.prisma.$executeRaw`
      UPDATE webhook_outbox SET state = 'pending', next_attempt_at = now(), locked_until = NULL, finished_at = NULL
      WHERE id = ${id}::uuid AND namespace = ${namespace} AND state <> 'sending'
        AND NOT (event = 'progress' AND EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.job_uid = webhook_outbox.job_uid AND p.event = 'progress' AND p.state = 'pending'))`;
    if (updated > 0) await this.prisma.$executeRaw`SELECT pg_notify('webhook_outbox', '')`;
    return updated > 0 || (await this.prisma.webhookOutbox.count({ where: { id, namespace, state: "sending" } })) > 0;
  }
}

function toDelivery(row: OutboxRow & { tries: WebhookAttempt[] }): WebhookDelivery {
  const open = row.state === "pending" || row.state === "sending";
  return {
    id: row.id, seq: row.seq, jobUid: row.jobUid, event: row.event, url: row.url, state: row.state, createdAt: row.createdAt,
    nextAttemptAt: open ? row.nextAttemptAt : null, finishedAt: row.finishedAt,
    attempts: row.tries.map((t) => ({ at: t.at, outcome: t.outcome, statusCode: t.statusCode, latencyMs: t.latencyMs, responseExcerpt: t.responseExcerpt, error: t.error })),
  };
}
