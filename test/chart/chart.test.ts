import { beforeAll, describe, expect, it } from "vitest";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { V1PodSpec } from "@kubernetes/client-node";
import { helmBinary, projectRoot } from "../../devstack/binaries.js";
import { isWellFormedApiKey } from "../../common/auth/api-key.js";
import { workerDeployment } from "../../operator/controllers/workerpool/worker-deployment.js";
import type { WorkerPool } from "../../common/crd-types.js";
import { chartDir, component, helm, podSpecOf, productionValues, render, type Rendered } from "./helm.js";

// A cold build of helm takes minutes (CI builds it first, in .ci/run).
beforeAll(() => helmBinary(), 15 * 60_000);

const setups: Record<string, { values: string[] }> = { default: { values: [] }, production: { values: [productionValues] } };

describe.each(Object.entries(setups))("the chart with %s values", (_, values) => {
  let objects: Rendered[];
  beforeAll(async () => {
    objects = await render(values);
  });

  it("passes helm lint --strict", async () => {
    const out = await helm(["lint", "--strict", chartDir, ...values.values.flatMap((f) => ["--values", f])]);
    expect(out).toContain("0 chart(s) failed");
  });

  it("renders the API, the operator (2 replicas) and the migration hook, one container each, with the project's commands", () => {
    const pods: Record<string, Rendered> = Object.fromEntries(objects.filter(podSpecOf).map((o) => [component(o)!, o] as const));
    expect(Object.keys(pods).sort()).toEqual(["api", "migrate", "operator"]);
    const commands = Object.fromEntries(Object.entries(pods).map(([c, o]) => {
      const spec = podSpecOf(o)!;
      expect(spec.containers, c).toHaveLength(1);
      expect(spec.initContainers, c).toBeUndefined();
      expect(spec.containers[0]!.imagePullPolicy).toBe("IfNotPresent");
      return [c, spec.containers[0]!.command];
    }));
    expect(commands).toEqual({ api: ["node", "dist/api/main.js"], operator: ["node", "dist/operator/main.js"], migrate: ["node", "dist/prisma/migrate-cli.js"] });
    expect((pods.operator!.spec as { replicas: number }).replicas).toBe(2);
    expect(pods.migrate!.metadata!.annotations!["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
  });

  it("hardens every pod: non-root, no escalation or capabilities, RuntimeDefault seccomp, read-only root with /tmp on an emptyDir", () => {
    for (const o of objects.filter(podSpecOf)) expectHardened(podSpecOf(o)!, `${o.kind} ${o.metadata!.name}`);
  });

  it("gives every container resources, and every long-running one readiness and liveness probes on its named port", () => {
    for (const o of objects.filter(podSpecOf)) {
      const c = podSpecOf(o)!.containers[0]!;
      expect(c.resources?.requests, o.metadata!.name).toBeDefined();
      if (o.kind !== "Deployment") continue;
      const port = component(o) === "api" ? "http" : "health";
      expect(c.ports?.map((p) => p.name)).toEqual([port]);
      expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port });
      expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port });
    }
  });

  it("takes connection secrets from Secrets, never from literal values", () => {
    for (const o of objects.filter(podSpecOf)) {
      const env = podSpecOf(o)!.containers[0]!.env ?? [];
      for (const name of ["DATABASE_URL", "REDIS_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]) {
        const e = env.find((v) => v.name === name);
        if (e) expect(e.valueFrom?.secretKeyRef, `${o.metadata!.name} ${name}`).toBeDefined();
      }
    }
    expect(objects.filter((o) => o.kind === "ConfigMap").flatMap((o) => Object.keys(o.data ?? {}))).not.toContainEqual(expect.stringMatching(/URL|SECRET|KEY/));
  });

  it("has every RBAC rule in the allow-list, and the API no access to pods or secrets", () => {
    expect(rulesByComponent(objects)).toEqual(ALLOWED);
    const apiRules = objects.filter((o) => o.rules && component(o) === "api").flatMap((o) => o.rules!);
    expect(apiRules.flatMap((r) => r.resources)).not.toContainEqual(expect.stringMatching(/^(pods|secrets|\*)/));
  });
});

/**
 * Every permission the chart grants, "verb group/resource[name]" per component: a rule broadened
 * in the chart fails here. Each is a call in the code (see the comments in the chart's RBAC).
 */
const ALLOWED = {
  api: [
    "create /namespaces", "get /namespaces", "patch /namespaces",
    ...["create", "delete", "get", "list", "watch"].map((v) => `${v} pixelmill.io/imagejobs`),
    ...["create", "get", "list", "watch"].map((v) => `${v} pixelmill.io/imagemodels`),
    "list pixelmill.io/workerpools", // GET /v1/pools
  ].sort(),
  operator: [
    "create /events", "list /namespaces", "watch /namespaces", "list /pods", "patch /pods",
    "create apps/deployments", "list apps/deployments", "patch apps/deployments", "watch apps/deployments",
    "create coordination.k8s.io/leases", "get coordination.k8s.io/leases[pixelmill-operator]", "update coordination.k8s.io/leases[pixelmill-operator]",
    "delete pixelmill.io/imagejobs", "get pixelmill.io/imagejobs", "list pixelmill.io/imagejobs", "watch pixelmill.io/imagejobs", "update pixelmill.io/imagejobs/status",
    "list pixelmill.io/imagemodels", "watch pixelmill.io/imagemodels",
    "list pixelmill.io/workerpools", "watch pixelmill.io/workerpools", "update pixelmill.io/workerpools/finalizers", "patch pixelmill.io/workerpools/status",
  ].sort(),
};

function rulesByComponent(objects: Rendered[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const o of objects.filter((x) => x.rules)) {
    const list = (out[component(o)!] ??= []);
    for (const r of o.rules!) for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) {
      list.push(`${v} ${g}/${res}${r.resourceNames ? `[${r.resourceNames.join(",")}]` : ""}`);
    }
  }
  for (const k of Object.keys(out)) out[k] = [...new Set(out[k])].sort();
  return out;
}

function expectHardened(pod: V1PodSpec, what: string): void {
  expect(pod.securityContext, what).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } });
  for (const c of pod.containers) {
    expect(c.securityContext, what).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    const tmp = c.volumeMounts?.find((m) => m.mountPath === "/tmp");
    expect(tmp, `${what}: /tmp`).toBeDefined();
    expect(pod.volumes?.find((v) => v.name === tmp!.name)?.emptyDir, `${what}: /tmp is an emptyDir`).toBeDefined();
  }
}

describe("the chart's settings", () => {
  it("watching one namespace, grants the operator a Role there and keeps only namespaces cluster-wide", async () => {
    const objects = await render({ namespace: "team-a", set: ["operator.watchNamespace=team-a"] });
    const operator = objects.filter((o) => o.rules && component(o) === "operator");
    const clusterRole = operator.find((o) => o.kind === "ClusterRole")!;
    expect(clusterRole.rules!.flatMap((r) => r.resources)).toEqual(["namespaces"]);
    const watched = operator.find((o) => o.kind === "Role" && o.metadata!.namespace === "team-a" && o.rules!.some((r) => r.resources?.includes("imagejobs")));
    expect(watched).toBeDefined();
    expect(rulesByComponent(objects).operator).toEqual(ALLOWED.operator);
    const env = podSpecOf(objects.find((o) => o.kind === "Deployment" && component(o) === "operator")!)!.containers[0]!.env!;
    expect(env).toContainEqual({ name: "PIXELMILL_WATCH_NAMESPACE", value: "team-a" });
  });

  it("gives the operator the storage settings: it lists batch prefixes and writes batch manifests (docs/batch.md)", async () => {
    const objects = await render();
    const env = podSpecOf(objects.find((o) => o.kind === "Deployment" && component(o) === "operator")!)!.containers[0]!.env!;
    expect(env.map((e) => e.name)).toEqual(expect.arrayContaining(["STORAGE_URL", "S3_REGION", "S3_FORCE_PATH_STYLE"]));
  });

  it("refuses to watch a namespace other than the release's, where the platform's jobs and models are", async () => {
    await expect(render({ namespace: "pixelmill", set: ["operator.watchNamespace=team-a"] }))
      .rejects.toThrow(/operator.watchNamespace must be empty \(every namespace\) or the release namespace "pixelmill"/);
  });

  it("generates an admin key the API accepts (pm_live_…, checksum included), mounted as PIXELMILL_ADMIN_KEY_FILE", async () => {
    const objects = await render();
    const secret = objects.find((o) => o.kind === "Secret" && o.metadata!.name === "pixelmill-admin-key")!;
    const keys = await Promise.all([0, 1, 2].map(async () => (await render()).find((o) => o.metadata?.name === "pixelmill-admin-key")!.data!["admin-key"]!));
    for (const encoded of [secret.data!["admin-key"]!, ...keys]) {
      const key = Buffer.from(encoded, "base64").toString("utf8");
      expect(key).toMatch(/^pm_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
      expect(isWellFormedApiKey(key), key).toBe(true);
    }
    expect(new Set(keys).size).toBe(3);
    const api = podSpecOf(objects.find((o) => o.kind === "Deployment" && component(o) === "api")!)!;
    expect(api.containers[0]!.env).toContainEqual({ name: "PIXELMILL_ADMIN_KEY_FILE", value: "/var/run/secrets/pixelmill/admin-key" });
    expect(api.volumes).toContainEqual({ name: "admin-key", secret: { secretName: "pixelmill-admin-key", items: [{ key: "admin-key", path: "admin-key" }] } });
  });

  it("generates the webhook sealing key (32 random bytes, base64) once per install and gives it to the API", async () => {
    const keys = await Promise.all([0, 1, 2].map(async () => {
      const objects = await render();
      const api = podSpecOf(objects.find((o) => o.kind === "Deployment" && component(o) === "api")!)!;
      expect(api.containers[0]!.env).toContainEqual({ name: "WEBHOOK_SECRETS_KEY", valueFrom: { secretKeyRef: { name: "pixelmill-webhook-key", key: "WEBHOOK_SECRETS_KEY" } } });
      const secret = objects.find((o) => o.kind === "Secret" && o.metadata!.name === "pixelmill-webhook-key")!;
      expect(secret.metadata!.annotations).toMatchObject({ "helm.sh/resource-policy": "keep" });
      return Buffer.from(secret.data!.WEBHOOK_SECRETS_KEY!, "base64").toString("utf8");
    }));
    for (const key of keys) expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(new Set(keys).size).toBe(3);
  });

  it("uses existing Secrets by name and then makes none", async () => {
    const objects = await render({ values: [productionValues], set: ["adminKey.existingSecret=my-admin", "webhooks.existingSecret=my-webhooks"] });
    expect(objects.filter((o) => o.kind === "Secret")).toEqual([]);
    const api = podSpecOf(objects.find((o) => o.kind === "Deployment" && component(o) === "api")!)!;
    const refs = Object.fromEntries(api.containers[0]!.env!.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom!.secretKeyRef!.name]));
    expect(refs).toEqual({ DATABASE_URL: "pixelmill-database", REDIS_URL: "pixelmill-redis", S3_ACCESS_KEY_ID: "pixelmill-s3", S3_SECRET_ACCESS_KEY: "pixelmill-s3", WEBHOOK_SECRETS_KEY: "my-webhooks" });
    expect(api.volumes!.find((v) => v.name === "admin-key")?.secret?.secretName).toBe("my-admin");
  });

  it("makes the database Secret from values as a hook before the migration Job, the others as plain resources", async () => {
    const objects = await render({ set: ["storage.s3.accessKeyId=AKIA", "storage.s3.secretAccessKey=shh"] });
    const secrets = Object.fromEntries(objects.filter((o) => o.kind === "Secret" && o.stringData).map((o) => [o.metadata!.name!, { keys: Object.keys(o.stringData!), hook: o.metadata!.annotations?.["helm.sh/hook-weight"] }] as const));
    expect(secrets).toEqual({
      "pixelmill-database": { keys: ["DATABASE_URL"], hook: "-10" },
      "pixelmill-redis": { keys: ["REDIS_URL"], hook: undefined },
      "pixelmill-s3": { keys: ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"], hook: undefined },
    });
  });

  it("renders the built-in ImageModels of models/manifests into the release namespace", async () => {
    const objects = await render({ namespace: "platform" });
    const models = objects.filter((o) => o.kind === "ImageModel");
    const dir = join(projectRoot, "models/manifests");
    const sources = await Promise.all((await readdir(dir)).sort().map(async (f) => parseYaml(await readFile(join(dir, f), "utf8")) as Rendered));
    expect(models.map((m) => ({ ...m, metadata: { name: m.metadata!.name } }))).toEqual(sources);
    for (const m of models) expect(m.metadata).toMatchObject({ namespace: "platform", labels: { "app.kubernetes.io/instance": "pixelmill" } });
    expect(await render({ set: ["builtinModels.enabled=false"] })).not.toContainEqual(expect.objectContaining({ kind: "ImageModel" }));
  });

  it("carries a copy of models/manifests equal to it (run hack/sync-chart-models.sh after editing models/manifests)", async () => {
    const list = async (d: string) => (await readdir(join(projectRoot, d))).filter((f) => f.endsWith(".yaml")).sort();
    const source = await list("models/manifests");
    expect(await list("charts/pixelmill/builtin-models")).toEqual(source);
    for (const f of source) {
      expect(await readFile(join(chartDir, "builtin-models", f), "utf8"), f).toBe(await readFile(join(projectRoot, "models/manifests", f), "utf8"));
    }
  });

  it("lets each component receive only what it serves and connect only to what it uses (production NetworkPolicies)", async () => {
    const policies = (await render({ values: [productionValues] })).filter((o) => o.kind === "NetworkPolicy");
    type Rule = { ports?: Array<{ port: number | string }>; from?: unknown[] };
    const ports = (rules: Rule[]) => rules.flatMap((r) => (r.ports ?? []).map((p) => p.port)).sort();
    const shape = Object.fromEntries(policies.map((p) => {
      const spec = p.spec as { policyTypes: string[]; ingress: Rule[]; egress: Rule[] };
      expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
      return [component(p)!, { in: ports(spec.ingress), out: [...new Set(ports(spec.egress))] }];
    }));
    expect(shape).toEqual({
      api: { in: ["http", "http"], out: [443, 53, 5432, 6379, 6443] },
      operator: { in: ["health"], out: [443, 53, 6379, 6443] },
      worker: { in: ["health"], out: [443, 53, 6379] },
      migrate: { in: [], out: [53, 5432] },
    });
    const api = policies.find((p) => component(p) === "api")!.spec as { ingress: Rule[] };
    expect(api.ingress[0]!.from).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }]);
    // Its /metrics is on the same port: Prometheus (metricsFrom) may reach it too, nobody else.
    expect(api.ingress[1]!.from).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);
  });

  it("lets Prometheus scrape each component: ServiceMonitors on the API's and the operator's Services by port name, a PodMonitor on the workers' health port", async () => {
    const objects = await render({ values: [productionValues] });
    const monitors = objects.filter((o) => o.kind === "ServiceMonitor" || o.kind === "PodMonitor");
    expect(monitors.map((m) => `${m.kind} ${component(m)}`).sort()).toEqual(["PodMonitor worker", "ServiceMonitor api", "ServiceMonitor operator"]);
    for (const monitor of monitors.filter((m) => m.kind === "ServiceMonitor")) {
      const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> };
      // The selector finds exactly one Service of the chart, which has a port of the endpoint's name.
      const services = objects.filter((o) => o.kind === "Service" && Object.entries(spec.selector.matchLabels).every(([k, v]) => o.metadata?.labels?.[k] === v));
      expect(services, component(monitor)).toHaveLength(1);
      const ports = (services[0]!.spec as { ports: Array<{ name: string }> }).ports.map((p) => p.name);
      expect(ports).toContain(spec.endpoints[0]!.port);
      expect(spec.endpoints[0]!.path).toBe("/metrics");
      expect(monitor.metadata?.labels).toMatchObject({ release: "kube-prometheus-stack" });
    }
    const pods = objects.find((o) => o.kind === "PodMonitor")!.spec as { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string }> };
    expect(pods.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "pixelmill-worker" });
    // The port the operator gives worker containers (operator/controllers/workerpool/worker-deployment.ts).
    const pool = objects.find((o) => o.kind === "WorkerPool") as unknown as WorkerPool;
    const worker = workerDeployment({ ...pool, metadata: { ...pool.metadata, uid: "u" } }).spec!.template.spec!.containers[0]!;
    expect(worker.ports?.map((p) => p.name)).toContain(pods.podMetricsEndpoints[0]!.port);
    expect((await render()).some((o) => o.kind === "ServiceMonitor" || o.kind === "PodMonitor")).toBe(false);
  });

  it("renders the production A100 and H100 pools, whose worker pods (made by the operator) land on their GPUs, hardened and without a token", async () => {
    const pools = (await render({ values: [productionValues] })).filter((o) => o.kind === "WorkerPool") as unknown as WorkerPool[];
    expect(pools.map((p) => [p.metadata.name, p.spec.gpu?.product])).toEqual([["h100", "NVIDIA-H100-80GB-HBM3"], ["a100", "NVIDIA-A100-SXM4-80GB"]]);
    for (const pool of pools) {
      expect(pool.spec.envFrom).toEqual([{ secretRef: { name: "pixelmill-redis" } }, { secretRef: { name: "pixelmill-s3" } }]);
      expect(pool.spec.env).toContainEqual({ name: "STORAGE_URL", value: "s3://acme-pixelmill/prod" });
      const pod = workerDeployment({ ...pool, metadata: { ...pool.metadata, uid: "u" } }).spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions)
        .toEqual([{ key: "nvidia.com/gpu.product", operator: "In", values: [pool.spec.gpu!.product] }]);
      expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
      expectHardened(pod, `worker ${pool.metadata.name}`);
    }
  });
});
