import { afterAll, beforeAll, expect, it } from "vitest";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";
import sharp from "sharp";
import { pino } from "pino";
import { GROUP, IMAGEJOB_PLURAL, VERSION, WORKERPOOL_PLURAL, type ImageJob } from "../../common/crd-types.js";
import { loadConfig } from "../../common/config.js";
import { IMAGEJOB_PHASES } from "../../common/job/phases.js";
import { instrumentKubeConfig } from "../../common/kube/kube-metrics.js";
import { Registry } from "../../common/metrics.js";
import { startOpsServer } from "../../common/ops-server.js";
import { REQUEST_ID_ANNOTATION } from "../../common/request-id.js";
import { projectRoot } from "../../devstack/binaries.js";
import { applyManifests, readManifests } from "../../devstack/manifests.js";
import { startOperator, type Operator } from "../../operator/operator.js";
import { inferenceRunner } from "../../worker/inference-runner.js";
import { startWorker, type RunningWorker } from "../../worker/worker.js";
import { eventually, startApi, type ApiFixture } from "../support/api-fixture.js";
import { kubeConfig, testEnv, uniqueName, s3StorageEnv } from "../support/env.js";
import { sample, scrape } from "../support/metrics.js";

/**
 * After real jobs have run through API → operator → worker, each process's /metrics shows the
 * series of docs/metrics.md with the expected labels and values, and the request id travels with
 * the job into the operator's and the worker's log lines. The operator and the worker each have
 * their own registry, as their own processes would; the API has the process's.
 */
let api: ApiFixture;
let operator: Operator;
let worker: RunningWorker;
const servers: Server[] = [];
const operatorRegistry = new Registry();
const workerRegistry = new Registry();
const lines: Record<string, unknown>[] = [];
const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
let operatorUrl: string;
let workerUrl: string;

async function serve(registry: Registry): Promise<string> {
  const server = await startOpsServer(0, () => "ready", log, registry);
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

beforeAll(async () => {
  api = await startApi("metrics");
  await applyManifests(api.kc, await readManifests(join(projectRoot, "models/manifests")), api.namespace);
  const env = testEnv();
  const queuePrefix = uniqueName("metrics");
  operator = await startOperator({
    kc: instrumentKubeConfig(kubeConfig(), "operator", operatorRegistry), registry: operatorRegistry,
    redisUrl: env.redisUrl, queuePrefix, namespace: api.namespace, log, retryBaseDelayMs: 200, poolResyncMs: 300,
  });
  // Serves grayscale only: resize-x2's jobs wait in their queue, for the queue gauges and the autoscaler.
  const config = loadConfig({
    REDIS_URL: env.redisUrl, QUEUE_PREFIX: queuePrefix, WORKER_MODELS: "grayscale", ...s3StorageEnv(env.s3, api.prefix), MODEL_CACHE_DIR: join(tmpdir(), "pixelmill-test-models"),
  });
  worker = await startWorker({ config, log, metrics: workerRegistry, createRunner: inferenceRunner(config, log) });
  [operatorUrl, workerUrl] = [await serve(operatorRegistry), await serve(workerRegistry)];
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await operator?.stop();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  await api?.stop();
});

async function submit(body: FormData | object, requestId: string): Promise<{ id: string; requestIdHeader: string | null }> {
  const init: RequestInit = body instanceof FormData
    ? { method: "POST", body, headers: { "x-request-id": requestId } }
    : { method: "POST", body: JSON.stringify(body), headers: { "x-request-id": requestId, "content-type": "application/json" } };
  const res = await api.fetch(`${api.url}/v1/jobs`, init);
  expect(res.status).toBe(202);
  return { id: ((await res.json()) as { id: string }).id, requestIdHeader: res.headers.get("x-request-id") };
}

const imageJob = async (uid: string) => (await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: IMAGEJOB_PLURAL }) as { items: ImageJob[] })
  .items.find((j) => j.metadata.uid === uid);

it("shows the new series on the API's, the operator's and the worker's /metrics after jobs ran, and follows the request id", async () => {
  const png = await sharp({ create: { width: 12, height: 8, channels: 3, background: "#3a6" } }).png().toBuffer();
  const form = new FormData();
  form.set("model", "grayscale");
  form.set("image", new Blob([png]), "in.png");
  const ok = await submit(form, "metrics-ok-1");
  expect(ok.requestIdHeader).toBe("metrics-ok-1");
  const missing = await submit({ model: "grayscale", input: { uri: `s3://${testEnv().s3.bucket}/${api.prefix}/inputs/absent.png` } }, "metrics-missing-1");
  await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: api.namespace, plural: WORKERPOOL_PLURAL, body: {
    apiVersion: `${GROUP}/${VERSION}`, kind: "WorkerPool", metadata: { name: "backlog" },
    spec: { image: "pixelmill/worker:test", models: ["resize-x2"], autoscaling: { minReplicas: 0, maxReplicas: 1 } },
  } });
  const waiting = await submit({ model: "resize-x2", input: { uri: `s3://${testEnv().s3.bucket}/${api.prefix}/inputs/absent.png` } }, "metrics-waiting-1");
  await eventually(async () => (await imageJob(ok.id))?.status?.phase === "Succeeded" && (await imageJob(missing.id))?.status?.phase === "Failed", "both jobs to finish", 60_000);
  expect((await imageJob(ok.id))?.metadata.annotations?.[REQUEST_ID_ANNOTATION]).toBe("metrics-ok-1");
  const pool = `${api.namespace}/backlog`;

  // The operator: phases from its cache, failures by reason, the queue and the autoscaler, its apiserver requests.
  const op = await eventually(async () => {
    const text = await scrape(operatorUrl);
    return sample(text, `pixelmill_queue_oldest_waiting_age_seconds{model="resize-x2"}`) > 0 && sample(text, 'pixelmill_imagejob_phase_jobs{phase="Succeeded"}') >= 1 ? text : undefined;
  }, "the operator's gauges", 30_000);
  for (const phase of IMAGEJOB_PHASES) expect(op).toMatch(new RegExp(`^pixelmill_imagejob_phase_jobs\\{phase="${phase}"\\} \\d+$`, "m"));
  expect(sample(op, 'pixelmill_imagejob_phase_jobs{phase="Failed"}')).toBeGreaterThanOrEqual(1);
  expect(sample(op, 'pixelmill_imagejob_phase_jobs{phase="Queued"}')).toBeGreaterThanOrEqual(1);
  expect(sample(op, 'pixelmill_imagejob_failures_total{model="grayscale",reason="InputNotFound"}')).toBe(1);
  expect(sample(op, 'pixelmill_queue_waiting_jobs{model="resize-x2"}')).toBe(1);
  expect(sample(op, 'pixelmill_queue_oldest_waiting_age_seconds{model="resize-x2"}')).toBeLessThan(60);
  expect(sample(op, `pixelmill_autoscaler_decisions_total{pool="${pool}",direction="up"}`)).toBe(1);
  expect(sample(op, `pixelmill_autoscaler_decisions_total{pool="${pool}",direction="hold"}`)).toBeGreaterThanOrEqual(1);
  expect(sample(op, `pixelmill_workerpool_desired_replicas{pool="${pool}"}`)).toBe(1);
  expect(op).toMatch(new RegExp(`^pixelmill_workerpool_ready_replicas\\{pool="${pool}"\\} [01]$`, "m"));
  expect(sample(op, 'pixelmill_reconcile_total{controller="imagejob",result="success"}')).toBeGreaterThanOrEqual(3);
  for (const verb of ["list", "watch"]) expect(sample(op, `pixelmill_kube_api_requests_total{component="operator",verb="${verb}",code="200"}`)).toBeGreaterThanOrEqual(3);
  expect(sample(op, 'pixelmill_kube_api_requests_total{component="operator",verb="update",code="200"}')).toBeGreaterThanOrEqual(4); // status: Queued, Running, Succeeded, Failed...
  const applied = ["200", "201"].map((code) => sample(op, `pixelmill_kube_api_requests_total{component="operator",verb="patch",code="${code}"}`));
  expect(applied[0]! + applied[1]!).toBeGreaterThanOrEqual(1); // the pool's Deployment, server-side applied
  expect(sample(op, 'pixelmill_kube_api_request_duration_seconds_count{verb="watch"}')).toBeGreaterThanOrEqual(3);

  // The worker: outcomes, whole attempts, every stage of the one that ran (wait for both).
  const wk = await scrape(workerUrl);
  expect(sample(wk, 'pixelmill_jobs_total{model="grayscale",outcome="succeeded",reason=""}')).toBe(1);
  expect(sample(wk, 'pixelmill_jobs_total{model="grayscale",outcome="failed",reason="InputNotFound"}')).toBe(1);
  expect(sample(wk, 'pixelmill_job_duration_seconds_count{model="grayscale",outcome="succeeded"}')).toBe(1);
  expect(sample(wk, 'pixelmill_job_duration_seconds_count{model="grayscale",outcome="failed"}')).toBe(1);
  for (const [stage, count] of [["wait", 2], ["fetch", 2], ["decode", 1], ["inference", 1], ["encode", 1], ["upload", 1]] as const) {
    expect(sample(wk, `pixelmill_job_stage_seconds_count{model="grayscale",stage="${stage}"}`), stage).toBe(count);
  }

  // The API: its routes, and its apiserver requests (the mirror's watch, the ImageJobs it created).
  const ap = await scrape(`${api.url}/metrics`);
  expect(sample(ap, 'pixelmill_http_requests_total{method="POST",route="/v1/jobs",code="202"}')).toBe(3);
  expect(sample(ap, 'pixelmill_kube_api_requests_total{component="api",verb="create",code="201"}')).toBeGreaterThanOrEqual(3);
  expect(sample(ap, 'pixelmill_kube_api_requests_total{component="api",verb="watch",code="200"}')).toBeGreaterThanOrEqual(1);
  expect(sample(ap, 'pixelmill_kube_api_requests_total{component="operator",verb="watch",code="200"}')).toBe(0);
  expect(ap).toContain("process_resident_memory_bytes"); // the process's registry: default metrics too

  for (const text of [op, wk, ap]) for (const uid of [ok.id, missing.id, waiting.id]) expect(text).not.toContain(uid);
  expect(op).not.toContain("/apis/");

  // The request id, from the API's header through the ImageJob into the operator's and the worker's lines.
  const about = (uid: string) => lines.filter((l) => l.jobUid === uid);
  expect(about(ok.id).find((l) => l.msg === "Enqueued job")).toMatchObject({ requestId: "metrics-ok-1" });
  expect(about(ok.id).find((l) => l.msg === "Job started")).toMatchObject({ requestId: "metrics-ok-1", model: "grayscale" });
  expect(about(ok.id).find((l) => l.msg === "Job succeeded")).toMatchObject({ requestId: "metrics-ok-1" });
  expect(about(missing.id).find((l) => l.msg === "Job failed")).toMatchObject({ requestId: "metrics-missing-1", reason: "InputNotFound" });
  expect(about(missing.id).find((l) => l.msg === "Updated job status" && l.phase === "Failed")).toMatchObject({ requestId: "metrics-missing-1" });
  expect(about(waiting.id).find((l) => l.msg === "Enqueued job")).toMatchObject({ requestId: "metrics-waiting-1" });
}, 90_000);
