import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startApi, type ApiFixture } from "../../test/support/api-fixture.js";
import { now, patchStatus } from "../../test/support/job-status.js";
import { testEnv } from "../../test/support/env.js";
import type { WebhookDeliveryView } from "../http/webhook-schemas.js";

// The secure default: webhooks go to public addresses only (http allowed, to reach the refusal itself).
let api: ApiFixture;
beforeAll(async () => {
  api = await startApi("webhook-policy", { webhooks: { secretsKey: randomBytes(32).toString("base64"), allowHttp: true, pollIntervalMs: 200 } });
});
afterAll(async () => api?.stop());

const submit = (body: Record<string, unknown>) => api.fetch(`${api.url}/v1/jobs`, {
  method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ model: "resize-x2", input: { uri: `s3://${testEnv().s3.bucket}/inputs/cat.png` }, ...body }),
});

describe("webhook targets", () => {
  it("are refused at submit (422) when they name or resolve to a non-public address, and no job is made", async () => {
    for (const [url, why] of [["https://10.1.2.3/hook", "private"], ["https://169.254.169.254/latest", "link-local"], ["http://localhost:9/hook", "loopback"]]) {
      const res = await submit({ webhook: url });
      expect(res.status, url).toBe(422);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { detail: string }).detail).toMatch(new RegExp(`webhook: .*${why} address; webhooks are sent only from public addresses`));
    }
    expect(await api.jobs.list({ namespace: api.namespace, limit: 10 })).toEqual([]);
  });

  it("are checked in the request: https URLs, known events, events only with a webhook", async () => {
    for (const body of [{ webhook: "ftp://example.com/x" }, { webhook: "https://example.com/x", webhookEvents: ["finished"] }, { webhookEvents: ["completed"] }]) {
      expect((await submit(body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it("are refused again when sent: a kubectl-made job's loopback webhook is never called, and the attempt says why", async () => {
    const job = await api.createJob("sneaky", { webhook: { url: "http://127.0.0.1:9/hook", events: ["completed"] } });
    await patchStatus(api, "sneaky", { phase: "Succeeded", finishedAt: now(), output: {} });
    const [d] = await eventually(async () => {
      const res = await api.fetch(`${api.url}/v1/jobs/${job.metadata.uid}/webhook-deliveries`);
      const items = ((await res.json()) as { items: WebhookDeliveryView[] }).items;
      return items[0]?.state === "refused" && items;
    }, "the delivery to be refused");
    expect(d!.attempts.map((a) => [a.outcome, a.status_code])).toEqual([["refused", null]]);
    expect(d!.attempts[0]!.error).toMatch(/^127\.0\.0\.1 is a loopback address; webhooks are sent only from public addresses/);
  });
});
