-- Signed webhooks through an outbox (docs/webhooks.md, ADR 0027). A job's webhook (its ImageJob's
-- spec.webhook) is kept on its row; every write of a row makes the events its state implies in the
-- same transaction (the trigger below), once per job and event, whichever replica writes it.
ALTER TABLE "jobs" ADD COLUMN "webhook_url" TEXT;
ALTER TABLE "jobs" ADD COLUMN "webhook_events" TEXT[] NOT NULL DEFAULT '{}';

-- A tenant's signing secrets, AES-256-GCM under WEBHOOK_SECRETS_KEY: they must be readable to sign.
-- Those with retires_at null or in the future sign; a rotation sets the old ones' retires_at.
CREATE TABLE "webhook_secrets" (
  "id" UUID NOT NULL PRIMARY KEY,
  "tenant_id" UUID NOT NULL REFERENCES "tenants"("id") ON DELETE CASCADE,
  "ciphertext" TEXT NOT NULL,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "retires_at" TIMESTAMPTZ(3)
);
CREATE INDEX "webhook_secrets_tenant_idx" ON "webhook_secrets"("tenant_id", "created_at");
-- One current secret per tenant: two replicas creating the first one at once make one.
CREATE UNIQUE INDEX "webhook_secrets_current_key" ON "webhook_secrets"("tenant_id") WHERE "retires_at" IS NULL;

-- One message per job and event; progress rows are coalesced (at most one pending per job).
CREATE TABLE "webhook_outbox" (
  "id" UUID NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
  "seq" BIGSERIAL NOT NULL,
  "namespace" TEXT NOT NULL,
  "job_uid" UUID NOT NULL,
  "event" TEXT NOT NULL,
  "url" TEXT NOT NULL,
  "payload" JSONB NOT NULL,
  -- For progress: the attempt and steps done, so replicas hearing the same report write it once.
  "progress" BIGINT,
  -- pending, sending (claimed until locked_until), delivered, dead (retries spent), refused (address policy), disabled (410 Gone), superseded (a progress report replaced by a newer one)
  "state" TEXT NOT NULL DEFAULT 'pending',
  "attempts" INTEGER NOT NULL DEFAULT 0,
  "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "locked_until" TIMESTAMPTZ(3),
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  "finished_at" TIMESTAMPTZ(3)
);
CREATE UNIQUE INDEX "webhook_outbox_job_event_key" ON "webhook_outbox"("job_uid", "event") WHERE "event" <> 'progress';
CREATE UNIQUE INDEX "webhook_outbox_progress_pending_key" ON "webhook_outbox"("job_uid") WHERE "event" = 'progress' AND "state" = 'pending';
CREATE INDEX "webhook_outbox_due_idx" ON "webhook_outbox"("next_attempt_at") WHERE "state" IN ('pending', 'sending');
CREATE INDEX "webhook_outbox_namespace_idx" ON "webhook_outbox"("namespace", "seq" DESC);
-- Finished messages by age, for the sender's pruning past WEBHOOK_HISTORY_DAYS.
CREATE INDEX "webhook_outbox_finished_idx" ON "webhook_outbox"("finished_at") WHERE "state" NOT IN ('pending', 'sending');

CREATE TABLE "webhook_attempts" (
  "id" UUID NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(),
  "outbox_id" UUID NOT NULL REFERENCES "webhook_outbox"("id") ON DELETE CASCADE,
  "at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  -- delivered, failed, refused, disabled
  "outcome" TEXT NOT NULL,
  "status_code" INTEGER,
  "latency_ms" INTEGER,
  "response_excerpt" TEXT,
  "error" TEXT
);
CREATE INDEX "webhook_attempts_outbox_idx" ON "webhook_attempts"("outbox_id", "at");

-- Endpoints that answered 410 Gone: nothing more is sent to them until re-enabled through the API.
CREATE TABLE "webhook_disabled_endpoints" (
  "namespace" TEXT NOT NULL,
  "url" TEXT NOT NULL,
  "disabled_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
  PRIMARY KEY ("namespace", "url")
);

-- The events a job's state implies: queued once it was queued, running once it started, completed
-- once finished. From the state, not the change: a batch of watch events may write a job's newest
-- state only (Queued, Running and Succeeded in one statement), and its events are still all made.
CREATE FUNCTION "webhook_outbox_enqueue"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ev TEXT;
  happened BOOLEAN;
  shown_status TEXT;
  happened_at TIMESTAMPTZ;
BEGIN
  FOREACH ev IN ARRAY ARRAY['queued', 'running', 'completed'] LOOP
    CONTINUE WHEN NOT (ev = ANY(NEW.webhook_events));
    happened := CASE ev
      WHEN 'queued' THEN NEW.phase IN ('Queued', 'Running') OR NEW.queued_at IS NOT NULL
      WHEN 'running' THEN NEW.phase = 'Running' OR NEW.started_at IS NOT NULL
      ELSE NEW.phase IN ('Succeeded', 'Failed', 'Canceled') END;
    CONTINUE WHEN NOT happened;
    shown_status := CASE ev WHEN 'completed' THEN lower(NEW.phase) ELSE ev END;
    happened_at := CASE ev WHEN 'queued' THEN NEW.queued_at WHEN 'running' THEN NEW.started_at ELSE NEW.finished_at END;
    INSERT INTO webhook_outbox (namespace, job_uid, event, url, payload)
    VALUES (NEW.namespace, NEW.uid, ev, NEW.webhook_url, jsonb_build_object(
      'type', 'job.' || ev,
      'timestamp', to_char(COALESCE(happened_at, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'data', jsonb_build_object(
        'id', NEW.uid, 'name', NEW.name, 'status', shown_status, 'model', NEW.model, 'attempts', NEW.attempts, 'batch', NEW.batch,
        'error', CASE WHEN ev = 'completed' THEN NEW.error END,
        'output', CASE WHEN ev = 'completed' AND NEW.output IS NOT NULL THEN jsonb_build_object(
          'content_type', NEW.output->'contentType', 'width', NEW.output->'width', 'height', NEW.output->'height',
          'bytes', NEW.output->'bytes', 'cached', COALESCE(NEW.output->'cached', 'false'::jsonb)) END)))
    ON CONFLICT (job_uid, event) WHERE event <> 'progress' DO NOTHING;
    IF FOUND THEN PERFORM pg_notify('webhook_outbox', ''); END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER "jobs_webhook_outbox" AFTER INSERT OR UPDATE ON "jobs"
  FOR EACH ROW WHEN (NEW.webhook_url IS NOT NULL) EXECUTE FUNCTION "webhook_outbox_enqueue"();
