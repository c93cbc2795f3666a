import { describe, expect, it } from "vitest";
import { progressRank } from "../data/webhook-outbox-repository.js";
import { nextAttemptAt, STANDARD_RETRY_DELAYS_MS } from "./retry-schedule.js";
import { refuseWebhookUrl } from "./webhook-post.js";
import { ANY_ADDRESS, PUBLIC_ONLY } from "../../common/address-policy.js";

describe("the retry schedule", () => {
  const now = new Date("2026-12-01T00:00:00Z");

  it("is Standard Webhooks': 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the first attempt, about a day in all", () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((attempts) => nextAttemptAt(attempts, STANDARD_RETRY_DELAYS_MS, now)!.getTime() - now.getTime());
    expect(waits).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    const total = waits.reduce((a, b) => a + b, 0);
    expect(total / 3600_000).toBeCloseTo(27.6, 1);
  });

  it("ends after the last attempt: the message is dead", () => {
    expect(nextAttemptAt(STANDARD_RETRY_DELAYS_MS.length, STANDARD_RETRY_DELAYS_MS, now)).toBeUndefined();
    expect(nextAttemptAt(2, [0, 100], now)).toBeUndefined();
    expect(nextAttemptAt(1, [0, 100], now)).toEqual(new Date(now.getTime() + 100));
  });
});

describe("progress coalescing", () => {
  it("ranks a report by attempt, then stage, then steps done: a later report always outranks an earlier one", () => {
    const reports = [
      { attempt: 1, stage: "fetch" as const }, { attempt: 1, stage: "inference" as const, step: { done: 1, total: 50 } },
      { attempt: 1, stage: "inference" as const, step: { done: 49, total: 50 } }, { attempt: 1, stage: "encode" as const },
      { attempt: 2, stage: "fetch" as const },
    ];
    const ranks = reports.map(progressRank);
    expect([...ranks].sort((a, b) => (a < b ? -1 : 1))).toEqual(ranks);
    expect(new Set(ranks).size).toBe(ranks.length);
    expect(progressRank(reports[1]!)).toBe(progressRank({ ...reports[1]! }));
  });
});

describe("webhook URLs", () => {
  const strict = { addresses: PUBLIC_ONLY, allowHttp: false };
  it("must be https unless http is allowed, carry no credentials, and name no refused address", () => {
    expect(refuseWebhookUrl("https://hooks.example.com/x", strict)).toBeUndefined();
    expect(refuseWebhookUrl("http://hooks.example.com/x", strict)).toMatch(/https/);
    expect(refuseWebhookUrl("http://hooks.example.com/x", { ...strict, allowHttp: true })).toBeUndefined();
    expect(refuseWebhookUrl("ftp://hooks.example.com/x", strict)).toMatch(/https/);
    expect(refuseWebhookUrl("https://u:p@hooks.example.com/x", strict)).toMatch(/credentials/);
    expect(refuseWebhookUrl("https://169.254.169.254/latest", strict)).toMatch(/link-local address; webhooks are sent only from public addresses/);
    expect(refuseWebhookUrl("https://[::ffff:127.0.0.1]/", strict)).toMatch(/loopback/);
    expect(refuseWebhookUrl("https://10.0.0.1/", strict)).toMatch(/private/);
    expect(refuseWebhookUrl("https://127.0.0.1/", { ...strict, addresses: ANY_ADDRESS })).toBeUndefined();
  });
});
