import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { stringify } from "yaml";
import { AuthorizationV1Api, CoordinationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { PixelmillClient, type JobView } from "../../client/index.js";
import { createPodRunner, type PodRunner } from "../../devstack/pod-runner.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { kubeConfig, testEnv, uniqueName } from "../support/env.js";
import { sample, scrape } from "../support/metrics.js";
import { chartDir, helm } from "./helm.js";

/**
 * `helm install` into the local cluster, the way a platform team runs Pixelmill: the chart's
 * hook Job migrates, its API and two operators (leader election) and the worker pods of its
 * WorkerPool run as real processes (devstack/pod-runner.ts plays the kubelet on the KWOK nodes,
 * each process with its own ServiceAccount's token, so RBAC is the chart's), and a job goes
 * through the installed release with the admin key the chart generated.
 */
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const namespace = uniqueName("chart");
const release = "pm";
const dir = join(tmpdir(), namespace);
const valuesFile = join(dir, "values.yaml");
let runner: PodRunner;
let db: TestDatabase;
let installed = false;

const helmIn = (...args: string[]) => helm([...args, "--namespace", namespace, "--kubeconfig", testEnv().kubeconfigPath]);

function values(logLevel: string) {
  const { redisUrl, s3 } = testEnv();
  return {
    logLevel,
    queuePrefix: namespace,
    database: { url: db.url },
    redis: { url: redisUrl },
    storage: { url: `s3://${s3.bucket}/${namespace}`, s3: { endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
    api: { replicas: 1 },
    // Only this namespace: the test cluster is shared with other test files' operators.
    operator: { replicas: 2, watchNamespace: namespace },
    workerPools: [{ name: "cpu", models: ["grayscale"], autoscaling: { minReplicas: 1, maxReplicas: 2 }, maxJobSeconds: 60, env: [{ name: "WORKER_CONCURRENCY", value: "2" }] }],
  };
}

const podsOf = async (component: string): Promise<V1Pod[]> =>
  (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}` })).items;
const isReady = (pod: V1Pod) => !pod.metadata?.deletionTimestamp && (pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false);

let adminKey: string | undefined;

/** A client of a Ready API pod (the API may roll), with the admin key the chart generated (kept on upgrade: read once). */
async function client(): Promise<PixelmillClient> {
  if (adminKey === undefined) {
    const secret = await core.readNamespacedSecret({ name: `${release}-pixelmill-admin-key`, namespace });
    adminKey = Buffer.from(secret.data!["admin-key"]!, "base64").toString("utf8");
  }
  const apiKey = adminKey;
  let baseUrl: string | undefined;
  await expect.poll(async () => {
    const pod = (await podsOf("api")).find(isReady);
    baseUrl = pod && runner.endpoint(`${namespace}/${pod.metadata!.name}`, "http");
    return baseUrl;
  }, { timeout: 60_000, interval: 500 }).toBeDefined();
  return new PixelmillClient({ baseUrl, apiKey });
}

/** Polls the job until it finished (a rolling API may drop a request: asked again). */
async function finished(id: string): Promise<JobView> {
  let view: JobView | undefined;
  await expect.poll(async () => {
    view = await (await client()).get(id).catch(() => undefined);
    return view && ["succeeded", "failed", "canceled"].includes(view.status) ? view.status : undefined;
  }, { timeout: 120_000, interval: 500 }).toBeDefined();
  return view!;
}

const image = (seed: number) => sharp({ create: { width: 32, height: 24, channels: 3, background: { r: seed * 40, g: 120, b: 200 } } }).png().toBuffer();

beforeAll(async () => {
  await mkdir(dir, { recursive: true });
  db = await createTestDatabase("chart");
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  runner = createPodRunner({ kc, namespace, logDir: join(dir, "pods"), baseEnv: { PATH: process.env.PATH, HOME: process.env.HOME } });
  await runner.start();
}, 180_000);

afterAll(async () => {
  if (installed) await helmIn("uninstall", release, "--wait").catch(() => {});
  await runner?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await db?.drop();
  if (!process.env.PIXELMILL_KEEP_TMP) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe("the chart installed into the local cluster", () => {
  it("installs: the migration hook ran, the API is Ready, one of two operators leads", async () => {
    await writeFile(valuesFile, stringify(values("info")));
    const out = await helmIn("install", release, chartDir, "--values", valuesFile, "--wait", "--timeout", "4m");
    installed = true;
    expect(out).toMatch(/STATUS: deployed/);
    expect(out).toMatch(/admin-key/); // NOTES.txt: how to read the admin key
    expect((await podsOf("api")).filter(isReady)).toHaveLength(1);
    const operators = await podsOf("operator");
    expect(operators.filter(isReady)).toHaveLength(2);
    // The migrator ran as the pre-install hook Job: the API found its tables and is Ready.
    expect(runner.processes().some((p) => p.pod.includes("-migrate") && p.exitCode === 0)).toBe(true);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    await expect.poll(async () => (await coordination.readNamespacedLease({ name: "pixelmill-operator", namespace }).catch(() => undefined))?.spec?.holderIdentity, { timeout: 60_000 })
      .toBeOneOf(operators.map((p) => p.metadata!.name!));
  }, 300_000);

  it("runs a job end to end through the release, with the admin key the chart generated", async () => {
    const api = await client();
    const job = await api.submit(await image(1), { model: "grayscale" });
    const view = await finished(job.id);
    expect(view).toMatchObject({ status: "succeeded", model: "grayscale" });
    const meta = await sharp(await api.download(view)).metadata();
    expect(meta).toMatchObject({ width: 32, height: 24 });
    // The worker that ran it is a pod of the chart's WorkerPool, scheduled on the system node.
    const workers = (await core.listNamespacedPod({ namespace, labelSelector: "pixelmill.io/pool=cpu" })).items;
    expect(workers.filter(isReady).length).toBeGreaterThanOrEqual(1);
    expect(workers[0]!.spec?.nodeName).toBe("kwok-system-0");
  }, 180_000);

  it("serves /metrics on the API, the leading operator and the worker, with the series of the job that ran", async () => {
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const leader = (await coordination.readNamespacedLease({ name: "pixelmill-operator", namespace })).spec!.holderIdentity!;
    const workers = (await core.listNamespacedPod({ namespace, labelSelector: "pixelmill.io/pool=cpu" })).items.filter(isReady);
    const api = (await podsOf("api")).find(isReady)!;
    const [apiText, operatorText, ...workerTexts] = await Promise.all([
      scrape(`${runner.endpoint(`${namespace}/${api.metadata!.name}`, "http")}/metrics`),
      scrape(`${runner.endpoint(`${namespace}/${leader}`, "health")}/metrics`),
      ...workers.map((w) => scrape(`${runner.endpoint(`${namespace}/${w.metadata!.name}`, "health")}/metrics`)),
    ]);
    // The job ran on one of the pool's workers.
    const workerText = workerTexts.find((t) => sample(t, 'pixelmill_jobs_total{model="grayscale",outcome="succeeded",reason=""}') >= 1) ?? "";
    if (process.env.PIXELMILL_METRICS_EXCERPT) await writeFile(process.env.PIXELMILL_METRICS_EXCERPT, [apiText, operatorText, workerText].join("\n# ----\n"));
    expect(sample(apiText, 'pixelmill_http_requests_total{method="POST",route="/v1/jobs",code="202"}')).toBeGreaterThanOrEqual(1);
    expect(sample(apiText, 'pixelmill_kube_api_requests_total{component="api",verb="create",code="201"}')).toBeGreaterThanOrEqual(1);
    expect(sample(operatorText, 'pixelmill_imagejob_phase_jobs{phase="Succeeded"}')).toBeGreaterThanOrEqual(1);
    expect(sample(operatorText, `pixelmill_workerpool_desired_replicas{pool="${namespace}/cpu"}`)).toBeGreaterThanOrEqual(1);
    expect(sample(operatorText, 'pixelmill_kube_api_requests_total{component="operator",verb="watch",code="200"}')).toBeGreaterThanOrEqual(1);
    expect(operatorText).toMatch(/^pixelmill_queue_oldest_waiting_age_seconds\{model="grayscale"\} /m);
    expect(workerText, "a worker that ran the job").not.toBe("");
    expect(sample(workerText, 'pixelmill_job_stage_seconds_count{model="grayscale",stage="inference"}')).toBeGreaterThanOrEqual(1);
    for (const text of [apiText, operatorText, workerText]) expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it("gives each ServiceAccount what it needs and no more", async () => {
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const can = async (sa: string, verb: string, resource: string, group = "", ns: string | undefined = namespace) => (await authz.createSubjectAccessReview({ body: {
      spec: { user: `system:serviceaccount:${namespace}:${release}-pixelmill-${sa}`, resourceAttributes: { namespace: ns, verb, group, resource } },
    } })).status!.allowed;
    expect(await can("api", "create", "imagejobs", "pixelmill.io")).toBe(true);
    // POST /v1/models creates ImageModels; it never changes or deletes one.
    expect(await can("api", "create", "imagemodels", "pixelmill.io")).toBe(true);
    expect(await can("api", "update", "imagemodels", "pixelmill.io")).toBe(false);
    expect(await can("api", "delete", "imagemodels", "pixelmill.io")).toBe(false);
    expect(await can("api", "list", "secrets")).toBe(false);
    expect(await can("api", "create", "pods")).toBe(false);
    expect(await can("api", "patch", "deployments", "apps")).toBe(false);
    expect(await can("operator", "patch", "deployments", "apps")).toBe(true);
    expect(await can("operator", "get", "secrets")).toBe(false);
    expect(await can("operator", "create", "imagejobs", "pixelmill.io")).toBe(false);
    // The worker pods carry no token at all.
    const worker = (await core.listNamespacedPod({ namespace, labelSelector: "pixelmill.io/pool=cpu" })).items[0]!;
    expect(worker.spec?.automountServiceAccountToken).toBe(false);
  });

  it("upgrades with a changed value: every component rolls, and no queued job is lost", async () => {
    const api = await client();
    const before = new Set((await core.listNamespacedPod({ namespace })).items.map((p) => p.metadata!.uid));
    const jobs = await Promise.all([1, 2, 3, 4, 5, 6].map(async (seed) => api.submit(await image(seed), { model: "grayscale" })));
    await writeFile(valuesFile, stringify(values("debug")));
    const out = await helmIn("upgrade", release, chartDir, "--values", valuesFile, "--wait", "--timeout", "4m");
    expect(out).toMatch(/REVISION: 2/);
    for (const job of jobs) expect((await finished(job.id)).status, job.id).toBe("succeeded");
    // New pods for the API, the operators and the workers (their env changed).
    await expect.poll(async () => {
      const pods = (await core.listNamespacedPod({ namespace })).items.filter(isReady);
      return ["api", "operator"].every((c) => pods.some((p) => p.metadata?.labels?.["app.kubernetes.io/component"] === c && !before.has(p.metadata?.uid)))
        && pods.some((p) => p.metadata?.labels?.["pixelmill.io/pool"] === "cpu" && !before.has(p.metadata?.uid));
    }, { timeout: 120_000, interval: 1000 }).toBe(true);
  }, 360_000);

  it("uninstalls, leaving no pods", async () => {
    await helmIn("uninstall", release, "--wait", "--timeout", "3m");
    installed = false;
    await expect.poll(async () => (await core.listNamespacedPod({ namespace })).items.map((p) => p.metadata!.name), { timeout: 120_000, interval: 1000 }).toEqual([]);
  }, 200_000);
});
