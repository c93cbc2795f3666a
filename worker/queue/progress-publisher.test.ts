import { describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { createLogger } from "../../common/logger.js";
import { MAX_PREVIEW_CHARS, parseProgress, progressChannel, type JobProgress } from "../../common/job/progress.js";
import { ProgressPublisher } from "./progress-publisher.js";

/** A stand-in for the one Redis command the publisher uses (the relay through real Redis: api/http/job-events.test.ts). */
function publisher(minIntervalMs: number) {
  const sent: Array<{ channel: string; message: JobProgress }> = [];
  const redis = { publish: (channel: string, message: string) => (sent.push({ channel, message: parseProgress(message)! }), Promise.resolve(1)) } as unknown as Redis;
  return { sent, progress: new ProgressPublisher(redis, "pm", createLogger({ level: "silent" }), minIntervalMs) };
}

const at = (stage: JobProgress["stage"], step?: { done: number; total: number }, preview?: string, elapsedMs = 70_000): JobProgress =>
  ({ uid: "u1", namespace: "ns", attempt: 1, stage, elapsedMs, ...(step ? { step } : {}), ...(preview ? { preview } : {}) });

describe("ProgressPublisher", () => {
  it("coalesces steps within the interval, but never drops a new stage, the last step or a preview", () => {
    const { sent, progress } = publisher(60_000);
    progress.report(at("fetch"));
    progress.report(at("inference", { done: 1, total: 10 }));
    for (let done = 2; done <= 9; done++) progress.report(at("inference", { done, total: 10 }, done === 5 ? "data:image/png;base64,AAAA" : undefined));
    progress.report(at("inference", { done: 10, total: 10 }));
    progress.report(at("upload"));
    expect(sent.map((s) => `${s.message.stage}${s.message.step ? ` ${s.message.step.done}` : ""}${s.message.preview ? " preview" : ""}`))
      .toEqual(["fetch", "inference 1", "inference 5 preview", "inference 10", "upload"]);
    expect(new Set(sent.map((s) => s.channel))).toEqual(new Set([progressChannel("pm")]));
  });

  it("tells nothing of an attempt's stages before it has run the interval: a quick job's status says it all", () => {
    const { sent, progress } = publisher(250);
    for (const stage of ["fetch", "decode", "inference", "encode", "upload"] as const) progress.report(at(stage, undefined, undefined, 40));
    progress.report(at("inference", { done: 1, total: 2 }, undefined, 40));
    progress.report(at("encode", undefined, undefined, 300));
    expect(sent.map((s) => `${s.message.stage}${s.message.step ? ` ${s.message.step.done}` : ""}`)).toEqual(["inference 1", "encode"]);
  });

  it("sends every step when they are further apart than the interval", () => {
    const { sent, progress } = publisher(0);
    for (let done = 1; done <= 3; done++) progress.report(at("inference", { done, total: 3 }));
    expect(sent.map((s) => s.message.step?.done)).toEqual([1, 2, 3]);
  });

  it("leaves out a preview too large for a message, keeping the step", () => {
    const { sent, progress } = publisher(0);
    progress.report(at("inference", { done: 1, total: 2 }, `data:image/png;base64,${"A".repeat(MAX_PREVIEW_CHARS)}`));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.message).toMatchObject({ step: { done: 1, total: 2 } });
    expect(sent[0]!.message.preview).toBeUndefined();
  });
});
