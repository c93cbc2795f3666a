import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { Registry } from "prom-client";
import type { ImageModelSpec } from "../common/crd-types.js";
import { JOB_STAGES } from "../common/job/progress.js";
import type { QueueJobData, QueueJobResult } from "../common/queue.js";
import { createObjectStore } from "../common/storage/index.js";
import { captureLog, manifest, png, randomImage } from "../test/support/inference.js";
import { testEnv, uniqueName } from "../test/support/env.js";
import { Inference } from "./inference/engine.js";
import { InputFetcher } from "./input/input-fetcher.js";
import { jobProcessor } from "./process-job.js";
import { INFERENCE_PARTS, StageClock, type StageTimings } from "./stage-timings.js";

const { s3 } = testEnv();
const prefix = uniqueName("stages");
const store = createObjectStore({
  STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint, S3_REGION: s3.region,
  S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey, S3_FORCE_PATH_STYLE: true,
});
const upscale: ImageModelSpec = (await manifest("upscale-x2")).spec;
/** The seven stages a bench reports; `inference` holds pre, run and post. */
const REPORTED = ["fetch", "decode", "pre", "run", "post", "encode", "upload"] as const;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-stages-"));
  // 600 pixels wide: two of upscale-x2's 512-pixel tiles.
  await store.put("uploads/team-a/wide.png", await png(randomImage(600, 40, 3)));
});

afterAll(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

function job(): Job<QueueJobData, QueueJobResult> {
  const uid = randomUUID();
  const data: QueueJobData = {
    uid, namespace: "team-a", name: "j", model: "upscale-x2", modelSpec: upscale, modelVersion: "1",
    inputUri: "upload:uploads/team-a/wide.png", params: {}, output: { format: "png" },
  };
  return { id: uid, attemptsMade: 0, data, timestamp: Date.now(), processedOn: Date.now() } as unknown as Job<QueueJobData, QueueJobResult>;
}

const sum = (t: StageTimings, stages: readonly (keyof StageTimings)[]) => stages.reduce((total, s) => total + (t[s] ?? 0), 0);

describe("stage timings of a job through the real engine", () => {
  // Held: tiles stitched in memory, then encoded. Spooled: each row of tiles written out as a band.
  it.each([["held", undefined], ["spooled", 1]] as const)("records every stage of a tiled upscale-x2 job (%s output)", async (_, spoolAbovePixels) => {
    const { log, lines } = captureLog();
    const metrics = new Registry();
    const inference = new Inference({ cacheDir: dir, executionProviders: ["cpu"], maxInputPixels: 40_000_000, fetchMaxBytes: 1 << 20, fetchTimeoutMs: 1000, log, spoolAbovePixels });
    const seen = new Map<string, StageTimings>();
    const process = jobProcessor({
      runner: inference, store, log, metrics, onStageTimings: (uid, timings) => seen.set(uid, timings),
      input: new InputFetcher({ store, bucketStore: () => store, maxBytes: 16 << 20, timeoutMs: 10_000 }),
    });
    try {
      const j = job();
      const t0 = performance.now();
      const result = await process(j);
      const wallMs = performance.now() - t0;
      expect(result).toMatchObject({ width: 1200, height: 80, cached: false });

      const timings = seen.get(j.id!)!;
      expect(Object.keys(timings).sort()).toEqual([...JOB_STAGES, ...INFERENCE_PARTS].sort());
      for (const [stage, ms] of Object.entries(timings)) expect(ms, stage).toBeGreaterThanOrEqual(0);
      // Ordering, not timing: the parts lie inside inference, and the stages inside the attempt.
      expect(sum(timings, INFERENCE_PARTS)).toBeLessThanOrEqual(timings.inference!);
      expect(sum(timings, REPORTED)).toBeLessThanOrEqual(sum(timings, JOB_STAGES));
      expect(sum(timings, JOB_STAGES)).toBeLessThanOrEqual(wallMs);

      const done = lines.find((l) => l.msg === "Job succeeded") as { stagesMs?: StageTimings } | undefined;
      expect(Object.keys(done?.stagesMs ?? {}).sort()).toEqual(Object.keys(timings).sort());
      const text = await metrics.metrics();
      for (const stage of [...JOB_STAGES, ...INFERENCE_PARTS]) expect(text).toContain(`pixelmill_job_stage_seconds_count{model="upscale-x2",stage="${stage}"} 1`);
    } finally {
      await inference.close();
    }
  });
});

describe("StageClock", () => {
  it("adds up a stage entered twice and the parts of inference, and changes nothing once ended", () => {
    const clock = new StageClock();
    clock.enter("upload");
    clock.enter("decode");
    clock.enter("upload");
    clock.add("run", 2);
    clock.add("run", 3);
    const timings = clock.end();
    expect(Object.keys(timings).sort()).toEqual(["decode", "run", "upload"]);
    expect(timings.run).toBe(5);
    const frozen = { ...timings };
    clock.enter("encode");
    clock.add("post", 1);
    expect(clock.end()).toEqual(frozen);
  });
});
