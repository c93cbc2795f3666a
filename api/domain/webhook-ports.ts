import type { JobProgress } from "../../common/job/progress.js";

/** One webhook message as listed: a job's event and every attempt to send it. */
export interface WebhookDelivery {
  id: string;
  /** Orders a tenant's deliveries (the cursor of their list). */
  seq: bigint;
  jobUid: string;
  event: string;
  url: string;
  /** pending, sending, delivered, dead (retries spent), refused (address policy), disabled (410 Gone, or its endpoint was). */
  state: string;
  attempts: WebhookAttemptRecord[];
  createdAt: Date;
  nextAttemptAt: Date | null;
  finishedAt: Date | null;
}

export interface WebhookAttemptRecord {
  at: Date;
  /** delivered, failed, refused, disabled */
  outcome: string;
  statusCode: number | null;
  latencyMs: number | null;
  responseExcerpt: string | null;
  error: string | null;
}

/** A message claimed for sending: its body is the stored payload, the same text on every attempt. */
export interface ClaimedMessage {
  id: string;
  namespace: string;
  jobUid: string;
  event: string;
  url: string;
  body: string;
  /** Attempts so far, this one included. */
  attempts: number;
}

/** How a message ends up after an attempt. */
export type AfterAttempt = { state: "delivered" | "dead" | "refused" | "disabled" } | { state: "pending"; nextAttemptAt: Date };

/** The webhook outbox (webhook_outbox, webhook_attempts, webhook_disabled_endpoints). */
export interface WebhookOutbox {
  /** Claims up to `limit` due messages for `leaseMs` (FOR UPDATE SKIP LOCKED): each is this caller's alone until then. */
  claim(limit: number, leaseMs: number): Promise<ClaimedMessage[]>;
  /** Deletes up to `limit` messages that finished before `before`, with their attempts; how many. */
  prune(before: Date, limit: number): Promise<number>;
  /** Records an attempt and where it leaves the message, in one transaction. */
  recordAttempt(id: string, attempt: Omit<WebhookAttemptRecord, "at">, after: AfterAttempt): Promise<void>;
  disableEndpoint(namespace: string, url: string): Promise<void>;
  isDisabled(namespace: string, url: string): Promise<boolean>;
  /** False when the endpoint was not disabled. */
  enableEndpoint(namespace: string, url: string): Promise<boolean>;
  /** The coalesced progress message of a job with a progress webhook; true when it wrote one. */
  enqueueProgress(progress: JobProgress, at: Date): Promise<boolean>;
  listForJob(namespace: string, jobUid: string): Promise<WebhookDelivery[]>;
  /** Newest first, after `beforeSeq` when given. */
  listForTenant(namespace: string, limit: number, beforeSeq?: bigint): Promise<WebhookDelivery[]>;
  /** Sends the message again from now on (its attempts so far stay listed); false when the namespace has no such message. */
  redeliver(namespace: string, id: string): Promise<boolean>;
}

/** A tenant's signing secret as shown to its admins. */
export interface WebhookSecretView {
  secret: string;
  createdAt: Date;
  /** Null for the current secret; when a rotated-out one stops signing. */
  retiresAt: Date | null;
}

/** The tenants' signing secrets. */
export interface WebhookSecrets {
  /** The secrets that sign now for the tenant of `namespace`, newest first (a first one is made); undefined when no tenant has it. */
  signingFor(namespace: string): Promise<string[] | undefined>;
  /** The tenant's signing secrets, newest first (a first one is made). */
  list(tenantId: string): Promise<WebhookSecretView[]>;
  /** A new current secret; the others keep signing for `graceSeconds`. The secrets that sign now, newest first. */
  rotate(tenantId: string, graceSeconds: number): Promise<WebhookSecretView[]>;
}
