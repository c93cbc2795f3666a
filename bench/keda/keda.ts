import { readFile, mkdir } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { ApiregistrationV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { kedaBinaries } from "../../devstack/binaries.js";
import { installCrds } from "../../devstack/crds.js";
import { freePort, startProcess, waitUntil, type Managed } from "../../devstack/processes.js";
import { makeKedaCerts } from "./keda-certs.js";
import { addLocalAddress } from "./local-address.js";

/** KEDA's own names, as its chart installs it. */
const NAMESPACE = "keda";
const ADAPTER_SERVICE = "keda-metrics-apiserver";
export const EXTERNAL_METRICS_APISERVICE = "v1beta1.external.metrics.k8s.io";

export interface KedaOptions {
  kc: KubeConfig;
  kubeconfigPath: string;
  /** Logs, certificates. */
  dir: string;
  /** The namespace whose ScaledObjects KEDA serves. */
  watchNamespace: string;
  log: (msg: string) => void;
}

export interface Keda {
  version: string;
  stop(): Promise<void>;
}

/**
 * The real KEDA (hack/build-keda.sh) against the local cluster, as its chart would run it: the
 * operator (ScaledObjects, 0 ↔ 1, the HPA it creates) and the metrics adapter behind the
 * apiserver's aggregation layer (external.metrics.k8s.io, which that HPA reads for 1 ↔ N),
 * joined by mutual-TLS gRPC. Needs a stack started with `hpa` (aggregation layer, HPA controller).
 * The adapter listens on an address of its own (local-address.ts), as the aggregator will not
 * proxy to a loopback endpoint. Both run with the admin kubeconfig, so no RBAC is set up.
 */
export async function startKeda(opts: KedaOptions): Promise<Keda> {
  const binDir = await kedaBinaries();
  const dir = join(opts.dir, "keda");
  await mkdir(dir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const address = await addLocalAddress();
    cleanups.push(() => address.remove());
    const certs = await makeKedaCerts(join(dir, "certs"), { name: ADAPTER_SERVICE, namespace: NAMESPACE }, ["127.0.0.1", address.ip]);
    await installCrds(opts.kc, join(binDir, "crds"));
    const objects = KubernetesObjectApi.makeApiClient(opts.kc);
    const apply = (obj: KubernetesObject) => objects.patch(obj, undefined, undefined, "pixelmill-bench", true, PatchStrategy.ServerSideApply);
    await apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });

    const [grpcPort, probePort, operatorMetricsPort, adapterPort, adapterMetricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const env = { ...process.env, KUBECONFIG: opts.kubeconfigPath, WATCH_NAMESPACE: opts.watchNamespace, POD_NAMESPACE: NAMESPACE, KEDA_CLUSTER_OBJECT_NAMESPACE: NAMESPACE };
    const started = (proc: Managed) => {
      cleanups.push(() => proc.stop(5_000));
      return proc;
    };
    const operator = started(startProcess({
      name: "keda-operator", command: join(binDir, "keda"), env, logPath: join(dir, "keda-operator.log"),
      args: [
        "--leader-elect=false", `--health-probe-bind-address=127.0.0.1:${probePort}`, `--metrics-bind-address=127.0.0.1:${operatorMetricsPort}`,
        `--metrics-service-bind-address=127.0.0.1:${grpcPort}`, `--cert-dir=${certs.dir}`, `--ca-dir=${certs.dir}`, "--zap-log-level=info",
      ],
    }));
    await waitUntil("KEDA operator /readyz", () => httpOk(`http://127.0.0.1:${probePort}/readyz`), { timeoutMs: 60_000, process: operator });
    const adapter = started(startProcess({
      name: "keda-adapter", command: join(binDir, "keda-adapter"), env, logPath: join(dir, "keda-adapter.log"),
      args: [
        `--bind-address=${address.ip}`, `--secure-port=${adapterPort}`, `--port=${adapterMetricsPort}`,
        `--cert-dir=${certs.dir}`, `--tls-cert-file=${certs.cert}`, `--tls-private-key-file=${certs.key}`,
        `--lister-kubeconfig=${opts.kubeconfigPath}`, `--authentication-kubeconfig=${opts.kubeconfigPath}`, `--authorization-kubeconfig=${opts.kubeconfigPath}`,
        `--metrics-service-address=127.0.0.1:${grpcPort}`, "--zap-log-level=info",
      ],
    }));

    // The Service has no selector: its one endpoint is the adapter's address, written here.
    await apply({ apiVersion: "v1", kind: "Service", metadata: { name: ADAPTER_SERVICE, namespace: NAMESPACE },
      spec: { ports: [{ name: "https", port: 443, targetPort: adapterPort, protocol: "TCP" }] } } as KubernetesObject);
    await apply({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: ADAPTER_SERVICE, namespace: NAMESPACE, labels: { "kubernetes.io/service-name": ADAPTER_SERVICE } },
      addressType: "IPv4", endpoints: [{ addresses: [address.ip], conditions: { ready: true } }], ports: [{ name: "https", port: adapterPort, protocol: "TCP" }] } as KubernetesObject);
    const caBundle = (await readFile(certs.caCert)).toString("base64");
    await apply({ apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", metadata: { name: EXTERNAL_METRICS_APISERVICE },
      spec: { group: "external.metrics.k8s.io", version: "v1beta1", groupPriorityMinimum: 100, versionPriority: 100, caBundle, service: { name: ADAPTER_SERVICE, namespace: NAMESPACE, port: 443 } } } as KubernetesObject);
    const registration = opts.kc.makeApiClient(ApiregistrationV1Api);
    // Deleted first on stop, so the aggregator does not keep calling an adapter that is gone.
    cleanups.push(async () => void (await registration.deleteAPIService({ name: EXTERNAL_METRICS_APISERVICE })));
    let lastCondition = "";
    await waitUntil(`APIService ${EXTERNAL_METRICS_APISERVICE} Available`, async () => {
      const got = await registration.readAPIServiceStatus({ name: EXTERNAL_METRICS_APISERVICE });
      const available = got.status?.conditions?.find((c) => c.type === "Available");
      lastCondition = available ? `${available.status} ${available.reason ?? ""} ${available.message ?? ""}` : "none";
      return available?.status === "True";
    }, { timeoutMs: 90_000, process: adapter }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nAPIService condition: ${lastCondition}`);
    });
    const version = /KEDA Version: ([\w.-]+)/.exec(await readFile(operator.logPath, "utf8"))?.[1] ?? "?";
    opts.log(`KEDA ${version} up: operator gRPC on 127.0.0.1:${grpcPort}, metrics adapter on ${address.ip}:${adapterPort} (logs in ${dir})`);
    return { version, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}
