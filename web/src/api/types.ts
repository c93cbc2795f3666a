import type { MeView, PoolView } from "../../../client/index.js";

export type { MeView, PoolView };
export type { WebhookDeliveryView } from "../../../api/http/webhook-schemas.js";
export type Scope = MeView["scopes"][number];
/** One sample of a pool's last hour. */
export type PoolSample = PoolView["history"][number];

/** The output or input of a job, as GET /v1/jobs/:id/output or /input answers it. */
export interface JobFile {
  blob: Blob;
  contentType: string;
  filename: string;
}
