import { InvalidRequestError, JobNotFoundError, NotFoundError } from "./errors.js";
import { isUuid } from "./cursor.js";
import type { JobRepository } from "./ports.js";
import type { Principal } from "./principal.js";
import type { WebhookDelivery, WebhookOutbox, WebhookSecrets, WebhookSecretView } from "./webhook-ports.js";

export interface ManageWebhooksDeps {
  jobs: Pick<JobRepository, "get">;
  /** None in an app built without Postgres' outbox (a test's partial app): every route then refuses. */
  outbox?: WebhookOutbox;
  /** None when WEBHOOK_SECRETS_KEY is not set: webhooks are off. */
  secrets?: WebhookSecrets;
  /** WEBHOOK_SECRET_GRACE_SECONDS: how long a rotated-out secret keeps signing. */
  graceSeconds: number;
  /** Wakes this process's sender after a redelivery. */
  nudge?: () => void;
}

/** A page of a tenant's deliveries. */
export interface DeliveryPage {
  items: WebhookDelivery[];
  nextCursor: string | null;
}

/** What a tenant sees and does of its webhooks: deliveries, redelivery, signing secrets, disabled endpoints. */
export class ManageWebhooks {
  constructor(private readonly deps: ManageWebhooksDeps) {}

  async forJob(principal: Principal, jobId: string): Promise<WebhookDelivery[]> {
    if (!isUuid(jobId) || !(await this.deps.jobs.get(principal.namespace, jobId))) throw new JobNotFoundError(jobId);
    return this.box().listForJob(principal.namespace, jobId);
  }

  async list(principal: Principal, limit: number, cursor?: string): Promise<DeliveryPage> {
    const before = cursor === undefined ? undefined : decodeSeq(cursor);
    const items = await this.box().listForTenant(principal.namespace, limit, before);
    const last = items.at(-1);
    return { items, nextCursor: items.length === limit && last ? Buffer.from(String(last.seq)).toString("base64url") : null };
  }

  async redeliver(principal: Principal, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.box().redeliver(principal.namespace, id))) throw new NotFoundError(`there is no webhook delivery ${id}`);
    this.deps.nudge?.();
  }

  secrets(principal: Principal): Promise<WebhookSecretView[]> {
    return this.enabled().list(principal.tenantId);
  }

  rotate(principal: Principal): Promise<WebhookSecretView[]> {
    return this.enabled().rotate(principal.tenantId, this.deps.graceSeconds);
  }

  async enableEndpoint(principal: Principal, url: string): Promise<void> {
    if (!(await this.box().enableEndpoint(principal.namespace, url))) throw new NotFoundError("that endpoint is not disabled");
  }

  private box(): WebhookOutbox {
    if (!this.deps.outbox) throw new InvalidRequestError("webhooks are not enabled on this platform");
    return this.deps.outbox;
  }

  private enabled(): WebhookSecrets {
    if (!this.deps.secrets) throw new InvalidRequestError("webhooks are not enabled on this platform (WEBHOOK_SECRETS_KEY is not set)");
    return this.deps.secrets;
  }
}

function decodeSeq(cursor: string): bigint {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!/^[0-9]{1,19}$/.test(text)) throw new InvalidRequestError("cursor is not one this API handed out");
  return BigInt(text);
}
