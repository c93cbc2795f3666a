import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { Ajv } from "ajv";
import { pino } from "pino";
import { Registry } from "prom-client";
import { parse } from "yaml";
import { loadConfig } from "../../common/config.js";
import type { ImageJob, ImageModelSpec } from "../../common/crd-types.js";
import { JobFailure } from "../../common/errors.js";
import type { QueueJobData, QueueJobResult } from "../../common/queue.js";
import { createObjectStore, readAll } from "../../common/storage/index.js";
import { projectRoot } from "../../devstack/binaries.js";
import { statusFromQueue } from "../../operator/controllers/imagejob/imagejob-status.js";
import { InputFetcher } from "../../worker/input/input-fetcher.js";
import { jobProcessor } from "../../worker/process-job.js";
import { SimulatedRunner } from "./simulated-runner.js";

/**
 * The simulated runner inside the real worker's job processor (input fetch, output upload, usage)
 * on a real file store: its result must be one the operator records as the job's status.output,
 * which the apiserver validates against the CRD (and prunes of anything the schema lacks).
 */
let dir: string;
let store: ReturnType<typeof createObjectStore>;
const image = { body: Buffer.from("simulated-output"), contentType: "image/png", width: 8, height: 6 };
const DELAY_MS = 60;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pixelmill-sim-"));
  store = createObjectStore(loadConfig({ STORAGE_URL: `file://${dir}` }));
  await store.put("uploads/team-a/in.png", Buffer.from("input"));
});

afterAll(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

const process = () => jobProcessor({
  runner: new SimulatedRunner(() => DELAY_MS, image), log: pino({ level: "silent" }), gpus: 1, metrics: new Registry(),
  store: store!, input: new InputFetcher({ store: store!, bucketStore: () => store!, maxBytes: 1 << 20, timeoutMs: 5000 }),
});

function job(): Job<QueueJobData, QueueJobResult> {
  const uid = randomUUID();
  const data: QueueJobData = {
    uid, namespace: "team-a", name: "j", model: "sim-0", modelSpec: {} as ImageModelSpec, modelVersion: "1",
    inputUri: "upload:uploads/team-a/in.png", params: {}, output: { format: "png" },
  };
  return { id: uid, attemptsMade: 0, data, timestamp: Date.now(), processedOn: Date.now() } as unknown as Job<QueueJobData, QueueJobResult>;
}

async function outputSchema(): Promise<{ properties: Record<string, unknown> }> {
  const crd = parse(await readFile(join(projectRoot, "crds/imagejobs.pixelmill.io.yaml"), "utf8")) as {
    spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { status: { properties: { output: { properties: Record<string, unknown> } } } } } } }> };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties.status.properties.output;
}

describe("SimulatedRunner in the worker's job processor", () => {
  it("waits the modelled time, writes the output, and returns a result the CRD keeps whole", async () => {
    const t0 = performance.now();
    const result = await process()(job());
    expect(performance.now() - t0).toBeGreaterThanOrEqual(DELAY_MS - 1);
    expect(result).toMatchObject({ contentType: "image/png", width: 8, height: 6, bytes: image.body.length, cached: false, usage: { gpus: 1 } });
    expect(result.usage.runSeconds).toBeGreaterThanOrEqual((DELAY_MS - 1) / 1000);
    expect((await readAll((await store.get(store.keyOf(result.uri)!)).body)).equals(image.body)).toBe(true);

    const schema = await outputSchema();
    const validate = new Ajv({ strict: false, validateFormats: false }).compile(schema);
    expect(validate(JSON.parse(JSON.stringify(result))), JSON.stringify(validate.errors)).toBe(true);
    // A field the schema does not name would be pruned by the apiserver: the status would lose it.
    expect(Object.keys(result).filter((k) => !(k in schema.properties))).toEqual([]);
  });

  it("gives a status the operator marks Succeeded with that output", async () => {
    const result = await process()(job());
    const imageJob = { metadata: { name: "j", namespace: "team-a", generation: 1 }, spec: { model: "sim-0", input: { uri: "upload:uploads/team-a/in.png" } } } as ImageJob;
    const status = statusFromQueue(imageJob, { state: "completed", attemptsMade: 1, attemptsStarted: 1, processedOn: Date.now() - 100, finishedOn: Date.now(), result }, new Date());
    expect(status.phase).toBe("Succeeded");
    expect(status.output).toEqual(result);
  });

  it("ends the wait when the job is canceled", async () => {
    const abort = new AbortController();
    const slow = new SimulatedRunner(() => 60_000, image);
    const run = slow.run({ modelName: "sim-0", modelVersion: "1", modelSpec: {} as ImageModelSpec, input: Buffer.alloc(0), params: {}, output: { format: "png" }, signal: abort.signal });
    setTimeout(() => abort.abort(new JobFailure("Canceled", "canceled")), 20);
    const t0 = performance.now();
    await expect(run).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
